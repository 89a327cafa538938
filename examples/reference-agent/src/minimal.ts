import {
  type Clock,
  JsonLinesLogger,
  type Logger,
  type LogLevel,
  type PeerKey,
  type Signaler,
  systemClock,
} from '@mesh/core';
import {
  type HostPort,
  IceWorker,
  type IceWorkerOptions,
  type TurnServerConfig,
  weriftAgentFactory,
} from '@mesh/ice-worker';
import { PeerConn } from '@mesh/peer-conn';
import { RelayManager } from '@mesh/relay-manager';
import { SignalClient } from '@mesh/signal-client';
import { PeerEndpoint, UapiDevice, type WgDevice } from '@mesh/wg-control';

/** What the core loop reads from its config (mesh-agent's config file gives all of it, and more). */
export interface MinimalAgentConfig {
  /** This agent's WireGuard private key, base64 as `wg genkey` prints it, and its public key. */
  privateKey: string;
  publicKey: PeerKey;
  /** The WireGuard interface (it must exist); `address` is the overlay address with its prefix. */
  interface: { name: string; listenPort: number; address: string };
  /** Absent or null: no relay (ICE only). `token`: the relay token, or a function minting one per dial. */
  relay?: { urls: string[]; token: string | (() => string) } | null;
  /** The mesh-signal server, `ws://` or `wss://`. */
  signal: { url: string };
  /** One STUN and one TURN server for ICE; neither → host candidates only. */
  ice: { stun?: HostPort; turn?: TurnServerConfig };
  peers: { publicKey: PeerKey; allowedIps: string[] }[];
  tuning: {
    persistentKeepaliveSec: number;
    probeIntervalMs: number;
    trustWindowMs: number;
    firstHandshakeTimeoutMs: number;
    staleAfterMs: number;
    logLevel: LogLevel;
  };
}

/** A signaling client the agent starts and stops (`SignalClient` from `@mesh/signal-client`). */
export type AgentSignaler = Signaler & { start(): void; stop(): Promise<void> };

export interface MinimalAgent {
  readonly relays: RelayManager | null;
  readonly signaler: AgentSignaler;
  readonly peers: readonly PeerConn[];
  stop(): Promise<void>;
}

/** Seams for embedding (another signaling transport, a device of your own) and for tests. */
export interface MinimalAgentOverrides {
  device?: WgDevice;
  signaler?: AgentSignaler;
  logger?: Logger;
  clock?: Clock;
  ice?: Partial<IceWorkerOptions>;
}

const probing = ({ probeIntervalMs, trustWindowMs }: MinimalAgentConfig['tuning']) => ({
  probeIntervalMs,
  trustWindowMs,
});

/**
 * The core loop of mesh-agent: config → WireGuard device → relay manager → signaling → one
 * PeerConn per peer. The WireGuard interface must exist (see `openInterface`); everything else
 * repairs itself from here on. `stop()` removes our peers from WireGuard and closes every path.
 */
export async function runMinimalAgent(
  config: MinimalAgentConfig,
  o: MinimalAgentOverrides = {},
): Promise<MinimalAgent> {
  const { privateKey, publicKey: localKey, tuning, interface: iface } = config;
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? new JsonLinesLogger({ level: tuning.logLevel });

  // 1. WireGuard: our key and listen port, once. Each peer gets a fixed 127.0.0.1 endpoint (step 4).
  const device = o.device ?? new UapiDevice(iface.name);
  await device.setPrivateKey(privateKey);
  await device.setListenPort(iface.listenPort);

  // 2. Relays: race the URLs for a home relay. Not awaited: the manager keeps trying in the
  //    background, ICE can connect meanwhile, and PeerConns re-offer when the home appears.
  const { relay } = config;
  const relays = relay ? new RelayManager({ urls: relay.urls, token: relay.token, localKey, clock, logger }) : null;
  relays?.start().catch((error: unknown) => logger.warn('relay-unavailable', { error }));

  // 3. Signaling: offers, answers and candidates, sealed end to end between the two peers' keys.
  const signaler = o.signaler ?? new SignalClient({ url: config.signal.url, privateKey, clock, logger });
  signaler.start();

  // 4. One PeerConn per peer. ICE must never run through the tunnel it carries.
  const excludedAddresses = [iface.address, ...config.peers.flatMap((p) => p.allowedIps)];
  const peers = config.peers.map(
    ({ publicKey: remoteKey, allowedIps }) =>
      new PeerConn({
        ...{ localKey, remoteKey, device, relay: relays, signaler, allowedIps, clock, logger },
        persistentKeepaliveSec: tuning.persistentKeepaliveSec,
        watcher: { firstHandshakeTimeoutMs: tuning.firstHandshakeTimeoutMs, staleAfterMs: tuning.staleAfterMs },
        endpoint: new PeerEndpoint({ wireguardPort: iface.listenPort, ...probing(tuning), clock, logger }),
        iceWorkerFactory: () =>
          new IceWorker({
            localKey,
            remoteKey,
            ...config.ice,
            excludedAddresses,
            agentFactory: weriftAgentFactory,
            clock,
            logger,
            ...o.ice,
          }),
      }),
  );
  const stop = async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await Promise.all([relays?.stop(), signaler.stop()]);
  };
  const failed = (await Promise.allSettled(peers.map((p) => p.start()))).find((r) => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  return { relays, signaler, peers, stop };
}
