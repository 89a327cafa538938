import { once } from 'node:events';
import { encodeAuth, generateRelayToken, PeerId } from '@mesh/relay-client';
import { fuzzFrames } from '@mesh/relay-client/testing';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RelayServer } from '../src/index.js';
import { connectClient, onCleanup, openPair, randomKey, roundTrip, SECRET, startServer } from './helpers.js';

/** A fuzzing connection: authenticated (mostly) or not, ready to take frames until the server drops it. */
async function fuzzSocket(server: RelayServer, authenticate: boolean): Promise<WebSocket> {
  const ws = new WebSocket(server.url, { perMessageDeflate: false });
  ws.on('error', () => {});
  onCleanup(() => ws.terminate());
  await once(ws, 'open', { signal: AbortSignal.timeout(5000) });
  if (authenticate) {
    const reply = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
    ws.send(encodeAuth(PeerId.fromKey(randomKey()), generateRelayToken(SECRET)));
    await reply;
  }
  return ws;
}

describe('fuzzing a running server over WebSocket', () => {
  it('10,000 frames: only offending connections are closed, the server stays up, a healthy pair keeps talking', async () => {
    const server = await startServer();
    const { ca, cb, a, b } = await openPair(server);
    let healthyRounds = 0;
    let fuzzing = true;
    const healthy = (async () => {
      for (let i = 0; fuzzing && i < 100_000; i++) {
        await roundTrip(i % 2 ? a : b, i % 2 ? b : a, Buffer.from(`healthy ${i}`), 5000);
        healthyRounds++;
      }
    })();
    const seed = Number(process.env.FUZZ_SEED ?? 0xf00d);
    const frames = fuzzFrames(seed, 10_000);
    let sent = 0;
    let connections = 0;
    const worker = async (w: number) => {
      let ws: WebSocket | undefined;
      for (;;) {
        if (!ws || ws.readyState !== WebSocket.OPEN) {
          ws?.terminate();
          ws = await fuzzSocket(server, (connections++ + w) % 10 !== 0);
        }
        const next = frames.next();
        if (next.done) break;
        ws.send(next.value, { binary: true });
        sent++;
        // Give the server a turn so a close lands before the next frame.
        await new Promise((r) => setImmediate(r));
      }
      ws?.terminate();
    };
    const t0 = performance.now();
    await Promise.all([0, 1, 2, 3].map(worker));
    fuzzing = false;
    await healthy;
    const took = performance.now() - t0;
    expect(sent).toBe(10_000);
    expect(healthyRounds).toBeGreaterThan(10);
    expect(ca.connected && cb.connected).toBe(true);
    expect(server.hasPeer(ca.localKey) && server.hasPeer(cb.localKey)).toBe(true);
    const m = server.metrics();
    expect(m.disconnects['protocol-error'] ?? 0).toBeGreaterThan(100);
    // Still serving new clients.
    const c = await connectClient(server);
    const ab = await c.openConn(ca.localKey);
    expect(ab.closed).toBe(false);
    console.log(
      `server fuzz: ${sent} frames on ${connections} connections in ${Math.round(took)} ms; healthy round trips ${healthyRounds};`,
      JSON.stringify(m.disconnects),
    );
  }, 60_000);
});
