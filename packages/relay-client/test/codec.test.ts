import { PeerKey } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import {
  decodeClientMessage,
  decodeMessage,
  decodeServerMessage,
  encodeAuth,
  encodeAuthResponse,
  encodeClose,
  encodeHealthCheck,
  encodeMessage,
  encodePeerIdList,
  encodeTransport,
  MAX_PEER_IDS_PER_MESSAGE,
  MAX_TRANSPORT_PAYLOAD,
  PeerId,
  peerIdFromKey,
  type RelayMessage,
  RelayProtocolError,
  rewriteTransportPeerId,
  transportPeerKey,
} from '../src/index.js';

// Golden vectors, written by hand from the layout in netbird-model.md §7.1 (not by the encoder).
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ID_A_HEX = '7368612d 000102030405060708090a0b0c0d0e0f 101112131415161718191a1b1c1d1e1f';
const ID_B_HEX = `7368612d ${'aa'.repeat(32)}`;
const HC_AGENT_SHA256 = '8997fbf9a582b2f557ce6510601a8b993f8bef68ff11aac982e2f0963ba9f61c';
const ID_A = PeerId.fromBytes(hex(ID_A_HEX));
const ID_B = PeerId.fromBytes(hex(ID_B_HEX));

const golden: Array<{ name: string; bytes: Buffer; msg: RelayMessage }> = [
  {
    name: 'transport',
    bytes: hex(`01 03 ${ID_A_HEX} deadbeef`),
    msg: { type: 'transport', peerId: ID_A, payload: hex('deadbeef') },
  },
  {
    name: 'transport, empty payload',
    bytes: hex(`01 03 ${ID_B_HEX}`),
    msg: { type: 'transport', peerId: ID_B, payload: hex('') },
  },
  { name: 'close', bytes: hex('01 04'), msg: { type: 'close' } },
  { name: 'healthcheck', bytes: hex('01 05'), msg: { type: 'healthcheck' } },
  {
    name: 'auth',
    bytes: hex(`01 06 2112a442 ${ID_A_HEX} 0102ff`),
    msg: { type: 'auth', peerId: ID_A, token: hex('0102ff') },
  },
  {
    name: 'auth response',
    // "rel://127.0.0.1:33080"
    bytes: hex('01 07 72656c3a2f2f3132372e302e302e313a3333303830'),
    msg: { type: 'auth-response', instanceUrl: 'rel://127.0.0.1:33080' },
  },
  { name: 'subscribe', bytes: hex(`01 08 ${ID_A_HEX} ${ID_B_HEX}`), msg: { type: 'subscribe', peerIds: [ID_A, ID_B] } },
  { name: 'unsubscribe', bytes: hex(`01 09 ${ID_A_HEX}`), msg: { type: 'unsubscribe', peerIds: [ID_A] } },
  { name: 'peers online', bytes: hex(`01 0a ${ID_B_HEX}`), msg: { type: 'peers-online', peerIds: [ID_B] } },
  {
    name: 'peers went offline',
    bytes: hex(`01 0b ${ID_A_HEX} ${ID_B_HEX}`),
    msg: { type: 'peers-offline', peerIds: [ID_A, ID_B] },
  },
];

function normalise(msg: RelayMessage): unknown {
  return JSON.parse(JSON.stringify(msg, (_k, v) => (v instanceof PeerId ? `id:${v.toString()}` : v)));
}

describe('relay codec golden vectors', () => {
  for (const g of golden) {
    it(`${g.name}: encodes to the exact bytes`, () => {
      const frames = encodeMessage(g.msg);
      expect(frames.map((f) => f.toString('hex'))).toEqual([g.bytes.toString('hex')]);
    });
    it(`${g.name}: decodes from the exact bytes`, () => {
      expect(normalise(decodeMessage(g.bytes))).toEqual(normalise(g.msg));
    });
  }

  it('the dedicated encoders produce the same bytes', () => {
    expect(encodeClose()).toEqual(hex('0104'));
    expect(encodeHealthCheck()).toEqual(hex('0105'));
    expect(encodeTransport(ID_A, hex('deadbeef'))).toEqual(golden[0]!.bytes);
    expect(encodeAuth(ID_A, hex('0102ff'))).toEqual(golden[4]!.bytes);
    expect(encodeAuthResponse('rel://127.0.0.1:33080')).toEqual(golden[5]!.bytes);
  });

  it('peer id = "sha-" + SHA-256 of the base64 key text (sha256sum of the text, pasted)', () => {
    const key = PeerKey.parse('xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=');
    const id = peerIdFromKey(key);
    expect(id.bytes.toString('hex')).toBe('7368612d9464ea2300e9c9f5f7eccf8c338b2920baee69f2c492361c8756f3f8d4cfc1c6');
    expect(id.toString()).toBe('sha-lGTqIwDpyfX37M+MM4spILruafLEkjYch1bz+NTPwcY=');
    expect(PeerId.fromMapKey(id.key).equals(id)).toBe(true);
    // NetBird's health-check agent id, HashID("healthcheck-agent"): printf %s healthcheck-agent | sha256sum
    expect(PeerId.hash('healthcheck-agent').bytes.subarray(4).toString('hex')).toBe(HC_AGENT_SHA256);
  });
});

describe('peer id lists', () => {
  const ids = (n: number) =>
    Array.from({ length: n }, (_, i) =>
      PeerId.fromBytes(Buffer.concat([Buffer.from('sha-'), Buffer.alloc(32, i % 256)])),
    );

  it('244 ids fit one 8786-byte message; 245 split into 244 + 1', () => {
    expect(MAX_PEER_IDS_PER_MESSAGE).toBe(244);
    const one = encodePeerIdList('subscribe', ids(244));
    expect(one.map((f) => f.length)).toEqual([2 + 244 * 36]);
    const two = encodePeerIdList('peers-online', ids(245));
    expect(two.map((f) => f.length)).toEqual([8786, 38]);
    expect(two[1]!.subarray(0, 2)).toEqual(hex('010a'));
    const back = two.flatMap((f) => (decodeMessage(f) as { peerIds: PeerId[] }).peerIds);
    expect(back.map((i) => i.key)).toEqual(ids(245).map((i) => i.key));
  });

  it('500 ids split into 244 + 244 + 12', () => {
    expect(encodePeerIdList('unsubscribe', ids(500)).map((f) => (f.length - 2) / 36)).toEqual([244, 244, 12]);
  });

  it('an empty list is refused by the encoder', () => {
    expect(() => encodePeerIdList('subscribe', [])).toThrow(RelayProtocolError);
  });
});

describe('transport id rewrite', () => {
  it('replaces the destination id with the source id in place, payload untouched', () => {
    const frame = encodeTransport(ID_A, hex('cafe'));
    expect(transportPeerKey(frame)).toBe(ID_A.key);
    rewriteTransportPeerId(frame, ID_B);
    expect(frame.toString('hex')).toBe(hex(`0103 ${ID_B_HEX} cafe`).toString('hex'));
  });
});

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RelayProtocolError);
    expect((e as RelayProtocolError).code).toBe('ERR_RELAY_PROTOCOL');
    return (e as RelayProtocolError).reason;
  }
  throw new Error('expected a RelayProtocolError');
}

describe('strict decoding', () => {
  it.each([
    ['empty', '', 'short'],
    ['one byte', '01', 'short'],
    ['version 0', '0005', 'version'],
    ['version 2', '0205', 'version'],
    ['type 0', '0100', 'type'],
    ['legacy hello', '0101', 'type'],
    ['legacy hello response', '0102', 'type'],
    ['type 12', '010c', 'type'],
    ['type 255', '01ff', 'type'],
    ['short transport', `0103 ${'00'.repeat(35)}`, 'short'],
    ['close with trailing byte', '010400', 'trailing-bytes'],
    ['healthcheck with trailing byte', '010501', 'trailing-bytes'],
    ['short auth', `0106 2112a442 ${'00'.repeat(35)}`, 'short'],
    ['auth with bad magic', `0106 2112a443 ${ID_A_HEX}`, 'magic'],
    ['auth over 212 bytes', `0106 2112a442 ${ID_A_HEX} ${'00'.repeat(171)}`, 'oversize'],
    ['auth response without URL', '0107', 'short'],
    ['auth response not UTF-8', '0107 ff', 'utf8'],
    ['empty subscribe', '0108', 'list-length'],
    ['subscribe of 35 bytes', `0108 ${'00'.repeat(35)}`, 'list-length'],
    ['offline of 37 bytes', `010b ${'00'.repeat(37)}`, 'list-length'],
  ])('%s → %s', (_name, bytes, reason) => {
    expect(reasonOf(() => decodeMessage(hex(bytes)))).toBe(reason);
  });

  it('a message over 8820 bytes is oversize; 8820 is accepted', () => {
    const max = Buffer.concat([hex(`0103 ${ID_A_HEX}`), Buffer.alloc(MAX_TRANSPORT_PAYLOAD)]);
    expect(max.length).toBe(8820);
    expect(decodeMessage(max).type).toBe('transport');
    expect(reasonOf(() => decodeMessage(Buffer.concat([max, Buffer.alloc(1)])))).toBe('oversize');
    expect(reasonOf(() => encodeTransport(ID_A, Buffer.alloc(MAX_TRANSPORT_PAYLOAD + 1)))).toBe('oversize');
  });

  it('direction: a server refuses server-only types, a client refuses client-only types', () => {
    expect(reasonOf(() => decodeClientMessage(golden[5]!.bytes))).toBe('direction');
    expect(reasonOf(() => decodeClientMessage(hex(`010a ${ID_A_HEX}`)))).toBe('direction');
    expect(reasonOf(() => decodeServerMessage(golden[4]!.bytes))).toBe('direction');
    expect(reasonOf(() => decodeServerMessage(hex(`0108 ${ID_A_HEX}`)))).toBe('direction');
    expect(decodeClientMessage(hex('0105')).type).toBe('healthcheck');
    expect(decodeServerMessage(hex('0104')).type).toBe('close');
  });

  it('non-bytes input is a typed error too', () => {
    expect(reasonOf(() => decodeMessage('0105' as unknown as Uint8Array))).toBe('invalid-argument');
    expect(reasonOf(() => decodeMessage(null as unknown as Uint8Array))).toBe('invalid-argument');
  });

  it('decodes a Uint8Array view that is not a Buffer', () => {
    const backing = new Uint8Array([9, 9, 1, 5, 9]);
    expect(decodeMessage(backing.subarray(2, 4)).type).toBe('healthcheck');
  });
});
