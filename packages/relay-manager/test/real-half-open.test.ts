import { onceEvent, type PeerKey } from '@mesh/core';
import type { RelayManager } from '@mesh/relay-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { relayUrl, roundTrip, startBlackholeProxy, startManager, startServer } from './real-helpers.js';

// The relay host vanishes and comes straight back, but its FIN/RST never reach the clients: their
// sockets stay half-open (tools/chaos §11 "half-open WebSocket"). Real server, real clients, and a
// loopback TCP proxy that silences the old connections.

const WAIT = { timeoutMs: 15_000 };
const timers: NodeJS.Timeout[] = [];
afterEach(() => {
  for (const t of timers.splice(0)) clearInterval(t);
});

/** Traffic on a conn, as WireGuard would keep sending: what lets the client notice the silence. */
function keepSending(conn: { send(d: Uint8Array): boolean }, everyMs: number): void {
  let left = 100; // bounded: 100 sends, far beyond any wait below
  const t = setInterval(() => {
    if (left-- <= 0) clearInterval(t);
    else conn.send(Buffer.from('wg'));
  }, everyMs);
  timers.push(t);
}

async function pairThrough(proxyPort: number): Promise<{ a: RelayManager; b: RelayManager; keys: PeerKey[] }> {
  const a = await startManager([relayUrl(proxyPort)]);
  const b = await startManager([relayUrl(proxyPort)]);
  return { a: a.mgr, b: b.mgr, keys: [a.key, b.key] };
}

describe('half-open relay sockets (real relay server behind a silencing proxy)', () => {
  it('the client keepalive finds a half-open home within seconds (ping-timeout), and a new conn carries data', async () => {
    const server = await startServer();
    const proxy = await startBlackholeProxy(server.address().port);
    const { a, b, keys } = await pairThrough(proxy.port);
    const [ka, kb] = keys as [PeerKey, PeerKey];
    const home = server.instanceUrl;
    const [ab, ba] = await Promise.all([a.openConn(home, kb), b.openConn(home, ka)]);
    await roundTrip(ab, ba, 'before');

    const lost = [a, b].map((m) => onceEvent(m, 'relay-disconnected', WAIT));
    const back = [a, b].map((m) => onceEvent(m, 'reconnected', WAIT));
    proxy.blackhole();
    const t0 = performance.now();
    keepSending(ab, 200);
    keepSending(ba, 200);
    const infos = (await Promise.all(lost)).map(([info]) => info);
    const detectedMs = performance.now() - t0;
    expect(infos.map((i) => i.cause)).toEqual(['ping-timeout', 'ping-timeout']);
    expect(infos[0]!.peers.map((p) => p.base64)).toEqual([kb.base64]);
    // Default keepalive: silence for 2 s before a send pings, 3 s for an answer (+ one send interval).
    expect(detectedMs).toBeLessThan(2_000 + 3_000 + 1_000);
    await Promise.all(back);
    const [x, y] = await Promise.all([a.openConn(home, kb), b.openConn(home, ka)]);
    await roundTrip(x, y, 'after');
  });

  it('the real relay server answers pings; reconnect() inside its window re-logs no live socket but drops a dead one at once', async () => {
    const server = await startServer(undefined, { faultInjection: true });
    const proxy = await startBlackholeProxy(server.address().port);
    const { mgr: a, key } = await startManager([relayUrl(proxy.port)], { forcedReconnectMinMs: 60_000 });
    const home = server.instanceUrl;
    await expect(a.verify(home, 'test')).resolves.toBe(true);
    const causes: string[] = [];
    a.on('relay-disconnected', (i) => causes.push(i.cause));

    // §15: the server forgot us but keeps the socket. The first forced re-login acts.
    server.faults.dropSession(key, { keepSocket: true });
    const relogged = onceEvent(a, 'reconnected', WAIT);
    expect(a.reconnect(home, 'reopened-conn-silent')).toBe(true);
    await relogged;
    // Inside the window a socket that answers is left alone (verify shares the ping reconnect sent).
    expect(a.reconnect(home, 'again')).toBe(false);
    await expect(a.verify(home, 'test')).resolves.toBe(true);
    expect(causes).toEqual(['forced:reopened-conn-silent']);

    // A dead socket is dropped at once, window or not.
    proxy.blackhole();
    const dropped = onceEvent(a, 'relay-disconnected', WAIT);
    const back = onceEvent(a, 'reconnected', WAIT);
    const t0 = performance.now();
    expect(a.reconnect(home, 'again')).toBe(false);
    expect((await dropped)[0].cause).toBe('ping-timeout');
    expect(performance.now() - t0).toBeLessThan(3_000 + 1_000);
    await back;
    await expect(a.verify(home, 'test')).resolves.toBe(true);
  });
});
