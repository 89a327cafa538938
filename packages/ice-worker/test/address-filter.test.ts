import { AddressFilter, newLocalSession, parseCandidateMessage, parseDescription } from '@mesh/ice-worker';
import { describe, expect, it } from 'vitest';

describe('AddressFilter', () => {
  it('matches IPs and CIDRs of both families, and v4-mapped v6 addresses', () => {
    const f = new AddressFilter(['100.64.0.0/10', '10.99.0.1', 'fd00::/8']);
    expect(f.excludes('100.64.0.1')).toBe(true);
    expect(f.excludes('100.127.255.255')).toBe(true);
    expect(f.excludes('100.128.0.1')).toBe(false);
    expect(f.excludes('10.99.0.1')).toBe(true);
    expect(f.excludes('10.99.0.2')).toBe(false);
    expect(f.excludes('::ffff:100.64.1.1')).toBe(true);
    expect(f.excludes('fd12::1')).toBe(true);
    expect(f.excludes('2001:db8::1')).toBe(false);
    expect(f.excludes(undefined)).toBe(false);
    // Names (mDNS) are never used.
    expect(f.excludes('abcd.local')).toBe(true);
    expect(new AddressFilter([]).excludes('192.0.2.1')).toBe(false);
  });

  it('rejects what is not an IP or CIDR', () => {
    for (const bad of ['nope', '10.0.0.0/33', '10.0.0.0/x', '10.0.0.0/8/1', 'fd00::/129']) {
      expect(() => new AddressFilter([bad])).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    }
  });
});

describe('wire forms', () => {
  it('round-trips a local session through JSON', () => {
    const s = newLocalSession();
    const d = parseDescription(
      JSON.parse(JSON.stringify({ sessionId: s.id, ufrag: s.ufrag, pwd: s.pwd, inReplyTo: s.id })),
    );
    expect(d).toEqual({ sessionId: s.id, ufrag: s.ufrag, pwd: s.pwd, inReplyTo: s.id });
    expect(parseCandidateMessage({ sessionId: s.id, candidate: 'x 1 udp 1 1.2.3.4 5 typ host' }).sessionId).toBe(s.id);
  });

  it('rejects wrong shapes with ERR_ICE_BAD_MESSAGE', () => {
    const s = newLocalSession();
    const ok = { sessionId: s.id, ufrag: s.ufrag, pwd: s.pwd };
    for (const bad of [
      'str',
      { ...ok, sessionId: 'ABCDEF0123' },
      { ...ok, sessionId: '0123' },
      { ...ok, ufrag: 'a:b!' },
      { ...ok, pwd: 'x'.repeat(300) },
      { ...ok, inReplyTo: 5 },
    ]) {
      expect(() => parseDescription(bad)).toThrow(expect.objectContaining({ code: 'ERR_ICE_BAD_MESSAGE' }));
    }
    expect(() => parseCandidateMessage({ sessionId: s.id, candidate: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_ICE_BAD_MESSAGE' }),
    );
  });
});
