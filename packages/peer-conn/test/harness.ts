import { generateKeyPairSync } from 'node:crypto';
import {
  FakeClock,
  flushMicrotasks,
  JsonLinesLogger,
  type Logger,
  type LogLevel,
  MeshError,
  PeerKey,
  silentLogger,
} from '@mesh/core';
import { seededRandom } from '@mesh/core/testing';
import { IceWorker } from '@mesh/ice-worker';
import { FakeIceNetwork } from '@mesh/ice-worker/testing';
import type { RelayClientFactory } from '@mesh/relay-manager';
import { RelayManager } from '@mesh/relay-manager';
import { type FakeRelayClient, FakeRelayNetwork } from '@mesh/relay-manager/testing';
import { PeerEndpoint } from '@mesh/wg-control';
import { FakeWireGuard } from '@mesh/wg-control/testing';
import { PeerConn, type PeerConnOptions, type SignalMessage } from '../src/index.js';
import { MemorySignalHub, type RelayExistsPolicy, withRelayExistsPolicy } from '../src/testing/index.js';

export function newKey(): PeerKey {
  const { publicKey } = generateKeyPairSync('x25519');
  return PeerKey.fromBytes(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
}

export interface SideOptions {
  ice?: boolean;
  relay?: boolean;
  probes?: boolean;
  /** Relay URLs this side's manager races for its home (default [RELAY_URL]). */
  relayUrls?: string[];
  /** Rewrites every message this side sends (e.g. to play an older peer). */
  rewrite?: (message: SignalMessage) => SignalMessage;
}

export interface PairOptions {
  policy?: RelayExistsPolicy;
  a?: SideOptions;
  b?: SideOptions;
  seed?: number;
  watcher?: PeerConnOptions['watcher'];
  relayUnreachableTtlMs?: number;
}

export interface Side {
  key: PeerKey;
  wg: FakeWireGuard;
  endpoint: PeerEndpoint;
  manager: RelayManager | null;
  conn: PeerConn;
  events: { type: string; at: number; info: unknown }[];
  /** The relay client currently serving this side's home relay. */
  relayClient(): FakeRelayClient | undefined;
}

export const RELAY_URL = 'rel://relay1.test:443';
export const RELAY_URL_2 = 'rel://relay2.test:443';
export const RELAY_URL_3 = 'rel://relay3.test:443';

/**
 * Two PeerConns on the fake clock: real PeerEndpoints, IceWorkers and RelayManagers, with in-memory
 * ICE, relay and signaling networks and a UDP stand-in for WireGuard. `a` is always the controller.
 */
export async function makePair(options: PairOptions = {}) {
  const clock = new FakeClock();
  // MESH_TEST_LOG=debug prints every component's log lines (with fake timestamps).
  const level = process.env.MESH_TEST_LOG as LogLevel | undefined;
  const log: Logger = level ? new JsonLinesLogger({ level, now: () => clock.now() }) : silentLogger;
  const hub = new MemorySignalHub({ clock, seed: options.seed ?? 7 });
  const iceNet = new FakeIceNetwork({ clock, connectDelayMs: 30 });
  const relayNet = new FakeRelayNetwork({ clock });
  relayNet.addServer(RELAY_URL);
  relayNet.addServer(RELAY_URL_2);
  relayNet.addServer(RELAY_URL_3);
  // "This server is unreachable from this client" (TCP RST on every packet, as an iptables REJECT
  // at the client's NAT): dials fail and a live session dies on the client's side only; the
  // server keeps it until its own health check would notice, like the real one.
  const blocked = new Set<string>();
  const blockKey = (key: PeerKey, url: string) => `${key.base64} ${url}`;
  const relayFactory: RelayClientFactory = (url, options) => {
    const client = relayNet.factory(url, options) as FakeRelayClient;
    const connect = client.connect.bind(client);
    client.connect = async (o) => {
      if (blocked.has(blockKey(options.localKey, url))) {
        throw new MeshError('ERR_RELAY_UNREACHABLE', `connect ECONNRESET ${url}`);
      }
      return connect(o);
    };
    return client;
  };
  let ka = newKey();
  let kb = newKey();
  if (!ka.isControllerFor(kb)) [ka, kb] = [kb, ka];

  const make = async (key: PeerKey, remote: PeerKey, tag: string, side: SideOptions = {}): Promise<Side> => {
    const wg = new FakeWireGuard({ clock, rekeyAfterMs: 20_000 });
    await wg.start();
    const endpoint = new PeerEndpoint({
      wireguardPort: wg.port,
      clock,
      probeIntervalMs: side.probes === false ? 0 : 1000,
      trustWindowMs: 3000,
      // Without probes, leave the verdict to the handshake watcher alone.
      ...(side.probes === false ? { trafficTrustWindowMs: 3_600_000 } : {}),
      logger: log.child({ side: tag }),
    });
    let manager: RelayManager | null = null;
    if (side.relay !== false) {
      manager = new RelayManager({
        urls: side.relayUrls ?? [RELAY_URL],
        token: 't',
        localKey: key,
        clock,
        clientFactory: relayFactory,
        // Seeded: the reconnect ladders' jitter is the same on every run.
        random: seededRandom((options.seed ?? 7) * 2 + (tag === 'A' ? 0 : 1)),
      });
      await manager.start();
    }
    const connOptions: PeerConnOptions = {
      localKey: key,
      remoteKey: remote,
      device: wg,
      endpoint,
      relay: manager,
      iceWorkerFactory:
        side.ice === false
          ? null
          : () =>
              new IceWorker({
                localKey: key,
                remoteKey: remote,
                agentFactory: iceNet.factory,
                clock,
                logger: log.child({ side: tag }),
              }),
      signaler: rewriting(hub.signaler(key), side.rewrite),
      allowedIps: ['100.64.0.0/32'],
      clock,
      logger: log.child({ side: tag }),
      watcher: options.watcher ?? { firstHandshakeTimeoutMs: 30_000, staleAfterMs: 45_000 },
      ...(options.relayUnreachableTtlMs ? { relayUnreachableTtlMs: options.relayUnreachableTtlMs } : {}),
    };
    const conn = new PeerConn(options.policy ? withRelayExistsPolicy(connOptions, options.policy) : connOptions);
    const events: Side['events'] = [];
    for (const type of ['path-changed', 'stale-marked', 'session-rotated', 'recovered', 'error'] as const) {
      conn.on(type, (info: unknown) => events.push({ type, at: clock.monotonic(), info }));
    }
    const relayClient = () => relayNet.clients.filter((c) => c.localKey.equals(key) && c.state === 'connected').at(-1);
    return { key, wg, endpoint, manager, conn, events, relayClient };
  };

  const a = await make(ka, kb, 'A', options.a);
  const b = await make(kb, ka, 'B', options.b);

  /** Advances the fake clock in small steps, letting real loopback I/O run between them. */
  const run = async (ms: number, step = 50) => {
    for (let t = 0; t < ms; t += step) {
      await clock.advance(Math.min(step, ms - t));
      await flushMicrotasks(3);
    }
  };

  /** Runs until `cond` holds (checked every step) or `ms` of fake time pass; returns fake ms taken. */
  const until = async (cond: () => boolean, ms: number, step = 50): Promise<number> => {
    const t0 = clock.monotonic();
    while (!cond()) {
      if (clock.monotonic() - t0 >= ms) throw new Error(`condition not met within ${ms} fake ms`);
      await run(step, step);
    }
    return clock.monotonic() - t0;
  };

  /**
   * Sends a data packet each way every 100 ms (as a ping would) until one arrives on each side;
   * true when that happens within `ms` of fake time.
   */
  const tunnelWorks = async (ms = 10_000): Promise<boolean> => {
    const ra = a.wg.dataReceived;
    const rb = b.wg.dataReceived;
    const t0 = clock.monotonic();
    while (clock.monotonic() - t0 < ms) {
      if (a.wg.dataReceived > ra && b.wg.dataReceived > rb) return true;
      a.wg.sendData();
      b.wg.sendData();
      await run(100, 25);
    }
    return a.wg.dataReceived > ra && b.wg.dataReceived > rb;
  };

  /** Makes relay `url` unreachable from `side` (live sessions die, dials fail), or reachable again. */
  const block = (side: Side, url: string, on = true) => {
    if (!on) {
      blocked.delete(blockKey(side.key, url));
      return;
    }
    blocked.add(blockKey(side.key, url));
    for (const c of relayNet.clients) {
      if (c.localKey.equals(side.key) && c.url === url && c.state === 'connected') {
        c._die('socket-closed', new MeshError('ERR_RELAY_UNREACHABLE', 'connection reset'));
      }
    }
  };

  const start = async () => {
    await Promise.all([a.conn.start(), b.conn.start()]);
  };

  const teardown = async () => {
    await Promise.all([a.conn.stop(), b.conn.stop()]);
    await Promise.all([a.manager?.stop(), b.manager?.stop()]);
    a.wg.stop();
    b.wg.stop();
  };

  return { clock, hub, iceNet, relayNet, a, b, run, until, tunnelWorks, start, teardown, block };
}

export type Pair = Awaited<ReturnType<typeof makePair>>;

/** Waits until both sides are on ice-direct. */
export const upDirect = (p: Pair) =>
  p.until(() => p.a.conn.activePath === 'ice-direct' && p.b.conn.activePath === 'ice-direct', 30_000);

function rewriting(
  signaler: ReturnType<MemorySignalHub['signaler']>,
  rewrite: ((m: SignalMessage) => SignalMessage) | undefined,
): PeerConnOptions['signaler'] {
  if (!rewrite) return signaler;
  return {
    send: (to, message) => signaler.send(to, rewrite(structuredClone(message))),
    on: signaler.on.bind(signaler),
    off: signaler.off.bind(signaler),
  };
}
