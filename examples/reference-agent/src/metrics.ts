import { createServer, type Server } from 'node:http';
import { toError } from '@mesh/core';
import { PATH_PRIORITY, type PathKind } from '@mesh/peer-conn';
import { type AgentStatus, handshakeAgeSec } from './status.js';

const PATHS = Object.keys(PATH_PRIORITY) as PathKind[];

type Sample = [labels: string, value: number];

function family(name: string, type: 'gauge' | 'counter', help: string, samples: Sample[]): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  return lines.join('\n');
}

/** Prometheus text exposition (format 0.0.4) of one status snapshot. */
export function renderMetrics(status: AgentStatus, now: number): string {
  const peer = (key: string) => `peer="${key}"`;
  const per = (f: (p: AgentStatus['peers'][number]) => number): Sample[] =>
    status.peers.map((p) => [`{${peer(p.publicKey)}}`, f(p)]);
  const ages: Sample[] = [];
  for (const p of status.peers) {
    const a = handshakeAgeSec(p, now);
    if (a !== null) ages.push([`{${peer(p.publicKey)}}`, a]);
  }
  const c = (name: keyof AgentStatus['peers'][number]['counters']) => per((p) => p.counters[name]);
  return `${[
    family('mesh_relay_connected', 'gauge', '1 while a home relay is connected.', [
      ['', status.self.relay.connected ? 1 : 0],
    ]),
    family(
      'mesh_peer_path',
      'gauge',
      "1 for the peer's active path (none, relay, ice-turn, ice-direct), 0 for the others.",
      status.peers.flatMap((p) =>
        PATHS.map((k): Sample => [`{${peer(p.publicKey)},path="${k}"}`, p.path === k ? 1 : 0]),
      ),
    ),
    family(
      'mesh_peer_last_handshake_age_seconds',
      'gauge',
      'Seconds since the last WireGuard handshake (absent: never).',
      ages,
    ),
    family(
      'mesh_peer_rx_bytes_total',
      'counter',
      'Bytes WireGuard received from the peer.',
      per((p) => p.rxBytes),
    ),
    family(
      'mesh_peer_tx_bytes_total',
      'counter',
      'Bytes WireGuard sent to the peer.',
      per((p) => p.txBytes),
    ),
    family(
      'mesh_peer_carrying',
      'gauge',
      '1 once WireGuard data crossed the active path both ways; 0 while it has not (yet).',
      per((p) => (p.carrying ? 1 : 0)),
    ),
    family(
      'mesh_peer_path_loss_percent',
      'gauge',
      'Probe loss per path over the last probes (absent until measured).',
      status.peers.flatMap((p) =>
        (['ice', 'relay'] as const).flatMap((k): Sample[] => {
          const v = p.loss[k];
          return v === null ? [] : [[`{${peer(p.publicKey)},path="${k}"}`, v]];
        }),
      ),
    ),
    family(
      'mesh_peer_ice_demoted',
      'gauge',
      '1 while ICE ranks below the relay for its loss.',
      per((p) => (p.iceDemoted ? 1 : 0)),
    ),
    family(
      'mesh_peer_offline',
      'gauge',
      '1 while the host is offline and offers wait.',
      per((p) => (p.offline ? 1 : 0)),
    ),
    family(
      'mesh_peer_recoveries_total',
      'counter',
      'Outages after which WireGuard data crossed the new path both ways.',
      c('recoveries'),
    ),
    family('mesh_peer_offers_sent_total', 'counter', 'Offers sent to the peer.', c('offersSent')),
    family('mesh_peer_offers_received_total', 'counter', 'Offers received from the peer.', c('offersReceived')),
    family('mesh_peer_relay_teardowns_total', 'counter', 'Relay entries closed for the peer.', c('relayTeardowns')),
    family('mesh_peer_relay_reopens_total', 'counter', 'Stale relay entries replaced.', c('relayReopens')),
    family('mesh_peer_ice_sessions_total', 'counter', 'ICE sessions that connected.', c('iceSessions')),
  ].join('\n')}\n`;
}

/** `GET /metrics` on `host:port`; anything else is 404. */
export class MetricsServer {
  readonly #server: Server;
  readonly #listen: { host: string; port: number };

  constructor(
    listen: { host: string; port: number },
    snapshot: () => Promise<AgentStatus>,
    now: () => number = Date.now,
  ) {
    this.#listen = listen;
    this.#server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      snapshot().then(
        (status) =>
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(renderMetrics(status, now())),
        (err: unknown) => res.writeHead(500).end(toError(err).message),
      );
    });
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const a = this.#server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#listen.port, this.#listen.host, () => resolve());
    });
  }

  stop(): Promise<void> {
    if (!this.#server.listening) return Promise.resolve();
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
