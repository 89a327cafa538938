import { once } from 'node:events';
import { decodeServerMessage, encodeAuth, encodePeerIdList, generateRelayToken, PeerId } from '@mesh/relay-client';
import { describe, expect, it } from 'vitest';
import { randomKey, rawSocket, SECRET, startServer } from './helpers.js';

describe('peer state notifications', () => {
  it('subscribing to 250 online peers answers in two messages split at 244; their departure is announced, batched', async () => {
    const server = await startServer();
    const ids = Array.from({ length: 250 }, () => PeerId.fromKey(randomKey()));
    const token = generateRelayToken(SECRET);
    const peers = await Promise.all(
      ids.map(async (id) => {
        const ws = await rawSocket(server);
        const reply = once(ws, 'message', { signal: AbortSignal.timeout(10_000) });
        ws.send(encodeAuth(id, token));
        await reply;
        return ws;
      }),
    );
    const watcher = await rawSocket(server);
    const frames: Buffer[] = [];
    watcher.on('message', (d: Buffer) => frames.push(d));
    const auth = once(watcher, 'message', { signal: AbortSignal.timeout(5000) });
    watcher.send(encodeAuth(PeerId.fromKey(randomKey()), token));
    await auth;
    frames.length = 0;
    for (const f of encodePeerIdList('subscribe', ids)) watcher.send(f);
    await expect.poll(() => frames.length, { timeout: 5000 }).toBe(2);
    const online = frames.splice(0).map((f) => decodeServerMessage(f) as { type: string; peerIds: PeerId[] });
    expect(online.map((m) => [m.type, m.peerIds.length])).toEqual([
      ['peers-online', 244],
      ['peers-online', 6],
    ]);
    expect(new Set(online.flatMap((m) => m.peerIds.map((i) => i.key)))).toEqual(new Set(ids.map((i) => i.key)));
    for (const ws of peers) ws.close();
    const offlineIds = () =>
      frames.map((f) => decodeServerMessage(f) as { type: string; peerIds: PeerId[] }).flatMap((m) => m.peerIds);
    await expect.poll(() => offlineIds().length, { timeout: 10_000 }).toBe(250);
    const offline = frames.map((f) => decodeServerMessage(f) as { type: string; peerIds: PeerId[] });
    expect(offline.every((m) => m.type === 'peers-offline' && m.peerIds.length <= 244)).toBe(true);
    expect(new Set(offlineIds().map((i) => i.key))).toEqual(new Set(ids.map((i) => i.key)));
    console.log(`250 departures announced in ${offline.length} peers-offline messages`);
  }, 30_000);

  it('online interest is one-shot, offline interest lasts until unsubscribe', async () => {
    const server = await startServer();
    const token = generateRelayToken(SECRET);
    const auth = async (id: PeerId) => {
      const ws = await rawSocket(server);
      const reply = once(ws, 'message', { signal: AbortSignal.timeout(5000) });
      ws.send(encodeAuth(id, token));
      await reply;
      return ws;
    };
    const target = PeerId.fromKey(randomKey());
    const watcherId = PeerId.fromKey(randomKey());
    const watcher = await auth(watcherId);
    const seen: string[] = [];
    watcher.on('message', (d: Buffer) => {
      const m = decodeServerMessage(d);
      if (m.type === 'peers-online' || m.type === 'peers-offline') seen.push(m.type);
    });
    watcher.send(encodePeerIdList('subscribe', [target])[0]!);
    await expect.poll(() => server.metrics().connectedPeers).toBe(1);
    const first = await auth(target);
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(['peers-online']);
    first.close();
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(['peers-online', 'peers-offline']);
    // Online interest was used up; offline interest remains.
    const second = await auth(target);
    second.close();
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(['peers-online', 'peers-offline', 'peers-offline']);
    watcher.send(encodePeerIdList('unsubscribe', [target])[0]!);
    // A subscribe to an online id (the watcher itself) is answered at once: proof the unsubscribe
    // before it on the same socket was processed.
    watcher.send(encodePeerIdList('subscribe', [watcherId])[0]!);
    const after = ['peers-online', 'peers-offline', 'peers-offline', 'peers-online'];
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(after);
    const third = await auth(target);
    third.close();
    await expect.poll(() => server.metrics().disconnects['socket-closed']).toBe(3);
    // Same sync point again: anything about `target` would be queued before this answer.
    watcher.send(encodePeerIdList('subscribe', [watcherId])[0]!);
    await expect.poll(() => seen.length, { timeout: 5000 }).toBe(5);
    expect(seen).toEqual([...after, 'peers-online']);
  });
});
