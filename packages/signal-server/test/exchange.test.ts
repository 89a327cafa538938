import { onceEvent } from '@mesh/core';
import { parseSignalMessage, type SignalMessage } from '@mesh/peer-conn';
import { describe, expect, it } from 'vitest';
import { collect, DEADLINE, startClient, startServer } from './helpers.js';

const OFFER: SignalMessage = {
  type: 'offer',
  version: 1,
  caps: ['ice', 'relay', 'probe'],
  ice: { ufrag: 'uFrAg123', pwd: 'p4ssw0rd-secret-ice-password', sessionId: '0a1b2c3d4e' },
  relay: { url: 'rels://relay.example:443' },
  candidates: [{ candidate: 'candidate:1 1 udp 2130706431 192.0.2.10 51820 typ host', sdpMid: '0' }],
};

describe('SignalClient ↔ SignalServer', () => {
  it('delivers messages both ways, from the right sender, in order', async () => {
    const server = await startServer();
    const a = await startClient(server.url);
    const b = await startClient(server.url);
    expect(a.connected && b.connected).toBe(true);
    expect(new Set(server.peers().map(String))).toEqual(new Set([a.publicKey.base64, b.publicKey.base64]));

    const atB = collect(b, 3);
    const atA = collect(a, 3);
    for (let i = 0; i < 3; i++) {
      await a.send(b.publicKey, { ...OFFER, caps: [`a${i}`] });
      await b.send(a.publicKey, { ...OFFER, type: 'answer', caps: [`b${i}`] });
    }
    const fromA = await atB;
    const fromB = await atA;
    expect(fromA.map(([from]) => from.equals(a.publicKey))).toEqual([true, true, true]);
    expect(fromB.map(([from]) => from.equals(b.publicKey))).toEqual([true, true, true]);
    expect(fromA.map(([, m]) => (m as SignalMessage & { caps: string[] }).caps[0])).toEqual(['a0', 'a1', 'a2']);
    expect(fromB.map(([, m]) => (m as { type: string }).type)).toEqual(['answer', 'answer', 'answer']);
    expect(a.stats()).toMatchObject({ sent: 3, received: 3, connects: 1 });
    expect(server.stats()).toMatchObject({ forwarded: 6, registered: 2 });
  });

  it('round-trips a PeerConn offer and candidate exactly, and PeerConn accepts them', async () => {
    const server = await startServer();
    const a = await startClient(server.url);
    const b = await startClient(server.url);
    const candidate: SignalMessage = { type: 'candidate', version: 1, sessionId: '0a1b2c3d4e', candidate: { c: 'x' } };
    const got = collect(b, 2);
    await a.send(b.publicKey, OFFER);
    await a.send(b.publicKey, candidate);
    const [[, offer], [, cand]] = (await got) as [[unknown, unknown], [unknown, unknown]];
    expect(offer).toEqual(OFFER);
    expect(parseSignalMessage(offer)).toEqual(OFFER);
    expect(parseSignalMessage(cand)).toEqual(candidate);
  });

  it('drops a message for a peer that is not registered, and counts it', async () => {
    const server = await startServer();
    const a = await startClient(server.url);
    const b = await startClient(server.url);
    const gone = onceEvent(server, 'unregistered', DEADLINE);
    await b.stop();
    await gone;
    const dropped = onceEvent(server, 'dropped', DEADLINE);
    await a.send(b.publicKey, OFFER); // handed to the socket: signaling has no delivery receipts
    expect((await dropped)[0].reason).toBe('undeliverable');
    expect(server.stats().dropped.undeliverable).toBe(1);
  });
});
