import { hasCode, onceEvent, type PeerKey } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import type { RelayClientLike } from '../client.js';
import { randomPeerKey } from './random-peer-key.js';

export interface RelayClientContractEnv {
  /** Builds an unconnected client for the test server. */
  makeClient(localKey: PeerKey): RelayClientLike;
  /** Builds an unconnected client for a URL where nothing listens. */
  makeUnreachableClient(localKey: PeerKey): RelayClientLike;
  /** Kills the server abruptly: every client's connection dies. */
  killServer(): Promise<void> | void;
  /**
   * The server vanishes without a FIN or RST: every client's socket stays open and nothing passes
   * either way. Clients must find out within their pong deadline, which must be under 3 s here.
   */
  blackholeServer(): Promise<void> | void;
  /** Releases everything (server, clients); called after each test. */
  teardown(): Promise<void> | void;
}

const WAIT = { timeoutMs: 5_000 };

/**
 * What RelayManager relies on from a relay client. Run against the in-memory fake and against the
 * real RelayClient + relay server, so the fake the manager's unit tests use stays honest.
 */
export function describeRelayClientContract(name: string, setup: () => Promise<RelayClientContractEnv>): void {
  describe(`RelayClientLike contract: ${name}`, () => {
    let env: RelayClientContractEnv | undefined;
    const clients: RelayClientLike[] = [];
    const open = async () => {
      env = await setup();
      return env;
    };
    const connected = async (key = randomPeerKey()) => {
      const c = env!.makeClient(key);
      clients.push(c);
      await c.connect();
      return { client: c, key };
    };
    afterEach(async () => {
      for (const c of clients.splice(0)) await c.close();
      await env?.teardown();
      env = undefined;
    });

    it('connect() authenticates and learns the instance URL', async () => {
      await open();
      const { client } = await connected();
      expect(typeof client.instanceUrl).toBe('string');
      expect(client.instanceUrl!.length).toBeGreaterThan(0);
    });

    it('connect() to an unreachable server rejects, and an aborted signal rejects at once', async () => {
      const e = await open();
      const bad = e.makeUnreachableClient(randomPeerKey());
      clients.push(bad);
      await expect(bad.connect()).rejects.toBeInstanceOf(Error);
      const c = e.makeClient(randomPeerKey());
      clients.push(c);
      await expect(c.connect({ signal: AbortSignal.abort() })).rejects.toSatisfy((err) => hasCode(err, 'ERR_ABORTED'));
    });

    it('aborting the connect signal after connect() resolved does not drop the connection', async () => {
      const e = await open();
      const ac = new AbortController();
      const aKey = randomPeerKey();
      const a = e.makeClient(aKey);
      clients.push(a);
      await a.connect({ signal: ac.signal });
      ac.abort();
      const b = await connected();
      const [ab, ba] = await Promise.all([a.openConn(b.key), b.client.openConn(aKey)]);
      const got = onceEvent(ba, 'data', WAIT);
      expect(ab.send(Buffer.from('still here'))).toBe(true);
      expect(String((await got)[0])).toBe('still here');
    });

    it('openConn() both ways carries datagrams; a second openConn for the same peer is ERR_CONN_ALREADY_EXISTS', async () => {
      await open();
      const a = await connected();
      const b = await connected();
      const [ab, ba] = await Promise.all([a.client.openConn(b.key), b.client.openConn(a.key)]);
      const atB = onceEvent(ba, 'data', WAIT);
      expect(ab.send(Buffer.from('ping'))).toBe(true);
      expect(String((await atB)[0])).toBe('ping');
      const atA = onceEvent(ab, 'data', WAIT);
      expect(ba.send(Buffer.from('pong'))).toBe(true);
      expect(String((await atA)[0])).toBe('pong');
      expect(a.client.hasConn(b.key)).toBe(true);
      await expect(a.client.openConn(b.key)).rejects.toSatisfy((err) => hasCode(err, 'ERR_CONN_ALREADY_EXISTS'));
      expect(ab.closed).toBe(false);
    });

    it('closeConnByPeerKey() closes exactly that entry; a new openConn then works', async () => {
      await open();
      const a = await connected();
      const b = await connected();
      const c = await connected();
      await Promise.all([b.client.openConn(a.key), c.client.openConn(a.key)]);
      const [ab, ac] = await Promise.all([a.client.openConn(b.key), a.client.openConn(c.key)]);
      const closed = onceEvent(ab, 'close', WAIT);
      expect(a.client.closeConnByPeerKey(b.key)).toBe(true);
      await closed;
      expect(ab.closed).toBe(true);
      expect(a.client.hasConn(b.key)).toBe(false);
      expect(a.client.closeConnByPeerKey(b.key)).toBe(false);
      expect(ac.closed).toBe(false);
      expect(a.client.hasConn(c.key)).toBe(true);
      const again = await a.client.openConn(b.key);
      expect(again.closed).toBe(false);
    });

    it('openConn() holds its entry from the call on: a close in the same tick cancels it', async () => {
      await open();
      const a = await connected();
      const absent = randomPeerKey(); // never comes online: the open would wait
      const opening = a.client.openConn(absent);
      expect(a.client.hasConn(absent)).toBe(true);
      expect(a.client.closeConnByPeerKey(absent)).toBe(true);
      await expect(opening).rejects.toBeInstanceOf(Error);
      expect(a.client.hasConn(absent)).toBe(false);
    });

    it('a remote that leaves: peer-offline and our conn closes', async () => {
      await open();
      const a = await connected();
      const b = await connected();
      const [ab] = await Promise.all([a.client.openConn(b.key), b.client.openConn(a.key)]);
      const offline = onceEvent(a.client, 'peer-offline', {
        ...WAIT,
        filter: (info) => info.peerKey.equals(b.key),
      });
      const closed = onceEvent(ab, 'close', WAIT);
      await b.client.close();
      await offline;
      await closed;
      expect(a.client.hasConn(b.key)).toBe(false);
    });

    it('server death: disconnected once, every conn closed, no entries left, openConn rejects', async () => {
      const e = await open();
      const a = await connected();
      const b = await connected();
      const c = await connected();
      await Promise.all([b.client.openConn(a.key), c.client.openConn(a.key)]);
      const conns = await Promise.all([a.client.openConn(b.key), a.client.openConn(c.key)]);
      let disconnects = 0;
      a.client.on('disconnected', () => disconnects++);
      const gone = onceEvent(a.client, 'disconnected', WAIT);
      const closes = conns.map((conn) => onceEvent(conn, 'close', WAIT));
      await e.killServer();
      await gone;
      await Promise.all(closes);
      expect(disconnects).toBe(1);
      expect(a.client.hasConn(b.key) || a.client.hasConn(c.key)).toBe(false);
      await expect(a.client.openConn(b.key)).rejects.toBeInstanceOf(Error);
    });

    it('checkAlive(): true on a live connection (twice at once: one answer for both); false before connect and after close', async () => {
      const e = await open();
      const fresh = e.makeClient(randomPeerKey());
      clients.push(fresh);
      await expect(fresh.checkAlive()).resolves.toBe(false);
      const a = await connected();
      await expect(Promise.all([a.client.checkAlive(), a.client.checkAlive()])).resolves.toEqual([true, true]);
      await a.client.close();
      await expect(a.client.checkAlive()).resolves.toBe(false);
      await expect(a.client.checkAlive({ signal: AbortSignal.abort() })).rejects.toSatisfy((err) =>
        hasCode(err, 'ERR_ABORTED'),
      );
    });

    it('a server gone half-open: checkAlive resolves false, disconnected (ping-timeout) once, every conn closed', async () => {
      const e = await open();
      const a = await connected();
      const b = await connected();
      const [ab] = await Promise.all([a.client.openConn(b.key), b.client.openConn(a.key)]);
      const causes: string[] = [];
      a.client.on('disconnected', ({ cause }) => causes.push(cause));
      const closed = onceEvent(ab, 'close', WAIT);
      await e.blackholeServer();
      await expect(a.client.checkAlive()).resolves.toBe(false);
      await closed;
      expect(causes).toEqual(['ping-timeout']);
      expect(a.client.hasConn(b.key)).toBe(false);
      await expect(a.client.checkAlive()).resolves.toBe(false);
    });

    it('close() closes every conn, is idempotent, and later openConn rejects', async () => {
      await open();
      const a = await connected();
      const b = await connected();
      const [ab] = await Promise.all([a.client.openConn(b.key), b.client.openConn(a.key)]);
      await a.client.close();
      await a.client.close();
      expect(ab.closed).toBe(true);
      await expect(a.client.openConn(b.key)).rejects.toBeInstanceOf(Error);
    });
  });
}
