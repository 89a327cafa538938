import { once } from 'node:events';
import { FakeClock, onceEvent } from '@mesh/core';
import { encodeAuth, encodeHealthCheck, generateRelayToken, PeerId } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { closed, connectClient, randomKey, rawSocket, SECRET, startServer } from './helpers.js';

async function authenticated(server: Parameters<typeof rawSocket>[0]): Promise<WebSocket> {
  const ws = await rawSocket(server);
  const reply = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
  ws.send(encodeAuth(PeerId.fromKey(randomKey()), generateRelayToken(SECRET)));
  await reply;
  return ws;
}

const isPing = (d: Buffer) => d.equals(encodeHealthCheck());

describe('server health check (defaults: ping every 25 s, 45 s window)', () => {
  it('pings at 25 s and drops a peer that never echoes at the end of its first 45 s window', async () => {
    const clock = new FakeClock();
    const server = await startServer({ clock });
    const ws = await authenticated(server);
    const pings: Buffer[] = [];
    ws.on('message', (d: Buffer) => isPing(d) && pings.push(d));
    await clock.advance(24_999);
    expect(pings).toHaveLength(0);
    const first = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
    await clock.advance(1);
    await first;
    expect(pings).toHaveLength(1);
    await clock.advance(19_999); // 44,999 ms
    expect(ws.readyState).toBe(ws.OPEN);
    const gone = closed(ws);
    await clock.advance(1); // 45 s: no echo in the window
    await gone;
    expect(server.metrics().disconnects['healthcheck-timeout']).toBe(1);
  });

  it('a peer that echoes survives many windows', async () => {
    const clock = new FakeClock();
    const server = await startServer({ clock });
    const ws = await authenticated(server);
    let echoes = 0;
    ws.on('message', (d: Buffer) => {
      if (isPing(d)) {
        ws.send(encodeHealthCheck());
        echoes++;
      }
    });
    for (let i = 1; i <= 8; i++) {
      await clock.advance(25_000);
      // Let the real socket carry ping and echo before time moves on.
      await expect.poll(() => echoes, { timeout: 5000, interval: 5 }).toBe(i);
      await expect.poll(() => server.metrics().disconnects['healthcheck-timeout'] ?? 0).toBe(0);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(ws.readyState).toBe(ws.OPEN);
  });
});

describe('client watchdog (defaults: 35 s window)', () => {
  it('a client that hears no ping for a whole window disconnects with healthcheck-timeout', async () => {
    const clock = new FakeClock();
    const server = await startServer({ healthCheck: { intervalMs: 3_600_000 } });
    const c = await connectClient(server, randomKey(), { clock });
    const lost = onceEvent(c, 'disconnected', { timeoutMs: 5000 });
    await clock.advance(34_999);
    expect(c.connected).toBe(true);
    await clock.advance(1);
    expect((await lost)[0].cause).toBe('healthcheck-timeout');
  });

  it('with real, short timers on both sides a quiet connection stays up across many windows', async () => {
    const hc = { intervalMs: 40, timeoutMs: 60 };
    const server = await startServer({ healthCheck: hc });
    const c = await connectClient(server, randomKey(), { healthCheck: hc });
    let lost = false;
    c.on('disconnected', () => {
      lost = true;
    });
    await new Promise((r) => setTimeout(r, 600)); // ≥ 6 windows on each side
    expect(lost).toBe(false);
    expect(server.metrics().disconnects['healthcheck-timeout'] ?? 0).toBe(0);
  });
});
