import { hasCode } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { parseSignalMessage, SIGNAL_PROTOCOL_VERSION } from '../src/messages.js';

const offer = {
  type: 'offer',
  version: 1,
  caps: ['ice', 'relay', 'probe'],
  ice: { ufrag: 'abcd', pwd: 'efghijklmnopqrstuvwxyz', sessionId: '0123456789' },
  relay: { url: 'rel://192.0.2.10:4001' },
};

describe('parseSignalMessage', () => {
  it('accepts offers, answers and candidates, ignoring unknown fields', () => {
    expect(parseSignalMessage({ ...offer, extra: 1 })).toEqual(offer);
    expect(parseSignalMessage({ ...offer, type: 'answer', ice: null, relay: null })).toMatchObject({
      type: 'answer',
      ice: null,
      relay: null,
    });
    expect(parseSignalMessage({ type: 'candidate', version: 1, sessionId: 'aaaaaaaaaa', candidate: { x: 1 } })).toEqual(
      {
        type: 'candidate',
        version: 1,
        sessionId: 'aaaaaaaaaa',
        candidate: { x: 1 },
      },
    );
  });

  it("keeps an answer's inReplyTo and validates it", () => {
    const answer = { ...offer, type: 'answer', ice: { ...offer.ice, inReplyTo: 'abcdefabcd' } };
    expect(parseSignalMessage(answer)).toMatchObject({ ice: { inReplyTo: 'abcdefabcd' } });
    expect(() => parseSignalMessage({ ...answer, ice: { ...offer.ice, inReplyTo: 'nope' } })).toThrow(/inReplyTo/);
  });

  it("keeps the relay part's unreachable mark; without it the relay part is as before", () => {
    const marked = { ...offer, relay: { url: offer.relay.url, unreachable: 'rel://192.0.2.11:4001' } };
    expect(parseSignalMessage(marked)).toMatchObject({ relay: marked.relay });
    const plain = parseSignalMessage(offer);
    expect(plain.type === 'offer' && plain.relay).toEqual({ url: offer.relay.url });
  });

  it.each([
    ['not an object', 'hello'],
    ['null', null],
    ['array', []],
    ['no version', { ...offer, version: undefined }],
    ['future version', { ...offer, version: SIGNAL_PROTOCOL_VERSION + 1 }],
    ['unknown type', { ...offer, type: 'bye' }],
    ['caps not array', { ...offer, caps: 'ice' }],
    ['bad session id', { ...offer, ice: { ...offer.ice, sessionId: 'XYZ' } }],
    ['empty ufrag', { ...offer, ice: { ...offer.ice, ufrag: '' } }],
    ['huge pwd', { ...offer, ice: { ...offer.ice, pwd: 'x'.repeat(10_000) } }],
    ['relay without url', { ...offer, relay: {} }],
    ['unreachable not a string', { ...offer, relay: { ...offer.relay, unreachable: 42 } }],
    ['unreachable null', { ...offer, relay: { ...offer.relay, unreachable: null } }],
    ['unreachable empty', { ...offer, relay: { ...offer.relay, unreachable: '' } }],
    ['unreachable huge', { ...offer, relay: { ...offer.relay, unreachable: `rel://${'x'.repeat(600)}` } }],
    ['unreachable is its own home', { ...offer, relay: { ...offer.relay, unreachable: offer.relay.url } }],
    ['candidate without candidate', { type: 'candidate', version: 1, sessionId: 'aaaaaaaaaa' }],
  ])('rejects %s with ERR_SIGNAL_MESSAGE', (_name, value) => {
    let err: unknown;
    try {
      parseSignalMessage(value);
    } catch (e) {
      err = e;
    }
    expect(hasCode(err, 'ERR_SIGNAL_MESSAGE')).toBe(true);
  });
});
