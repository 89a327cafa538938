/**
 * Runs inside one peer namespace: configures the local wireguard-go through UapiDevice, points the
 * remote peer's WireGuard endpoint at a PeerEndpoint, joins that endpoint to the remote's by a plain
 * UDP path across the NATs, and watches the handshake. Reports JSON lines on stdout; reads
 * `{"op":"start"}` (turn on keepalives: the first handshake), `{"op":"rekey"}` (drop the WireGuard
 * session and re-arm the watcher) and `{"op":"rearm"}` on stdin.
 */
import { createInterface } from 'node:readline';
import { HandshakeWatcher, PeerEndpoint, UapiDevice, UdpPath } from '@mesh/wg-control';

export interface PeerAgentConfig {
  ifname: string;
  privateKey: string;
  peerPublicKey: string;
  /** WireGuard's listen port (loopback side of the PeerEndpoint). */
  wgPort: number;
  /** Local port of the UDP path (port-forwarded on this peer's NAT). */
  pathPort: number;
  remoteHost: string;
  remotePort: number;
  /** The remote peer's tunnel address with prefix, e.g. 100.64.0.2/32. */
  remoteTunnelCidr: string;
  probeIntervalMs: number;
  trustWindowMs: number;
  firstHandshakeTimeoutMs: number;
  staleAfterMs: number;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as PeerAgentConfig;
const out = (ev: string, fields: Record<string, unknown> = {}) =>
  process.stdout.write(`${JSON.stringify({ ev, at: Date.now(), ...fields })}\n`);

const device = new UapiDevice(cfg.ifname);
await device.setPrivateKey(cfg.privateKey);
await device.setListenPort(cfg.wgPort);
const endpoint = new PeerEndpoint({
  wireguardPort: cfg.wgPort,
  probeIntervalMs: cfg.probeIntervalMs,
  trustWindowMs: cfg.trustWindowMs,
});
const local = await endpoint.start();
const watcher = new HandshakeWatcher({
  device,
  peer: cfg.peerPublicKey,
  firstHandshakeTimeoutMs: cfg.firstHandshakeTimeoutMs,
  staleAfterMs: cfg.staleAfterMs,
  checkIntervalMs: 250,
});
watcher.on('handshake', (h) => out('handshake', { lastHandshakeAt: h.lastHandshakeAt, first: h.first }));
watcher.on('handshake-timeout', (t) => out('handshake-timeout', { reason: t.reason, detail: t.detail }));
// Baseline before the path exists, so an old handshake is never mistaken for a new one.
await watcher.start();

const path = await UdpPath.open({ remoteHost: cfg.remoteHost, remotePort: cfg.remotePort, bindPort: cfg.pathPort });
endpoint.on('path-alive', (i) => out('path-alive', { rttMs: i.rttMs, via: i.via }));
endpoint.on('path-silent', (i) => out('path-silent', { silentForMs: i.silentForMs }));
endpoint.attach(path);
endpoint.setActive(path);
const peerConfig = {
  publicKey: cfg.peerPublicKey,
  endpoint: `${local.host}:${local.port}`,
  allowedIps: [cfg.remoteTunnelCidr],
};
await device.upsertPeer(peerConfig);
out('ready', { endpoint: peerConfig.endpoint, path: `${cfg.remoteHost}:${cfg.remotePort}` });

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  void (async () => {
    const cmd = JSON.parse(line) as { op?: string };
    if (cmd.op === 'start') {
      // Keepalives start the first handshake without waiting for traffic and keep NAT mappings warm.
      // Sent once both sides are ready, so the first initiation is not lost to a half-built path.
      await device.upsertPeer({ publicKey: cfg.peerPublicKey, persistentKeepalive: 5 });
      out('started');
    } else if (cmd.op === 'rekey') {
      // Removing and re-adding the peer drops its session: WireGuard must handshake again.
      await watcher.reset();
      await device.removePeer(cfg.peerPublicKey);
      await device.upsertPeer(peerConfig);
      out('rekeyed');
    } else if (cmd.op === 'stats') {
      out('stats', { endpoint: endpoint.stats, path: path.counters });
    } else if (cmd.op === 'rearm') {
      await watcher.reset();
      out('rearmed');
    }
  })().catch((e: unknown) => out('error', { message: e instanceof Error ? e.message : String(e) }));
});
const shutdown = () => {
  watcher.stop();
  endpoint.stop();
  path.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
rl.on('close', shutdown);
