import { createServer, type Server } from 'node:http';
import { listen } from './listen.js';

/** Why a transport message was not forwarded. */
export type DropCause =
  /** No authenticated peer with the destination id. */
  | 'no-route'
  /** The destination's send buffer is over its bound (slow or stuck receiver). */
  | 'queue-full'
  /** Fault injection: the pair is stalled. */
  | 'fault-stall'
  /** Fault injection: the sender's session was dropped server-side. */
  | 'fault-dropped';

/** Every DropCause, in the order metrics list them. */
export const DROP_CAUSES: readonly DropCause[] = ['no-route', 'queue-full', 'fault-stall', 'fault-dropped'];

/** Why a connection was closed by the server. */
export type DisconnectCause =
  | 'auth-timeout'
  | 'auth-failed'
  | 'protocol-error'
  | 'not-binary'
  | 'healthcheck-timeout'
  | 'replaced'
  | 'slow-consumer'
  | 'client-close'
  | 'socket-closed'
  | 'shutdown'
  | 'fault-dropped';

/** A snapshot of the server's counters and gauges. */
export interface RelayServerMetrics {
  /** Authenticated peers currently connected. */
  connectedPeers: number;
  /** Connections that have not authenticated yet. */
  pendingConnections: number;
  /** Transport messages forwarded. */
  messagesForwarded: number;
  /** Transport bytes forwarded. */
  bytesForwarded: number;
  /** Transport messages not forwarded, by cause. */
  drops: Record<DropCause, number>;
  /** Connections closed by the server, by cause. */
  disconnects: Partial<Record<DisconnectCause, number>>;
  /** Failed authentications, by token rejection reason. */
  authFailures: Record<string, number>;
}

/** Counters kept by the server; `text()` renders them in the Prometheus text format. */
export class MetricsRegistry {
  messagesForwarded = 0;
  bytesForwarded = 0;
  readonly drops: Record<DropCause, number> = { 'no-route': 0, 'queue-full': 0, 'fault-stall': 0, 'fault-dropped': 0 };
  readonly disconnects: Partial<Record<DisconnectCause, number>> = {};
  readonly authFailures: Record<string, number> = {};

  drop(cause: DropCause): void {
    this.drops[cause]++;
  }

  disconnect(cause: DisconnectCause): void {
    this.disconnects[cause] = (this.disconnects[cause] ?? 0) + 1;
  }

  authFailure(reason: string): void {
    this.authFailures[reason] = (this.authFailures[reason] ?? 0) + 1;
  }

  snapshot(gauges: { connectedPeers: number; pendingConnections: number }): RelayServerMetrics {
    return {
      ...gauges,
      messagesForwarded: this.messagesForwarded,
      bytesForwarded: this.bytesForwarded,
      drops: { ...this.drops },
      disconnects: { ...this.disconnects },
      authFailures: { ...this.authFailures },
    };
  }

  text(gauges: { connectedPeers: number; pendingConnections: number }): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    const labelled = (label: string, values: Record<string, number | undefined>) =>
      Object.entries(values).map(([k, v]): [string, number] => [`{${label}="${k}"}`, v ?? 0]);
    metric('mesh_relay_connected_peers', 'gauge', 'Authenticated peers connected.', [['', gauges.connectedPeers]]);
    metric('mesh_relay_pending_connections', 'gauge', 'Connections waiting for auth.', [
      ['', gauges.pendingConnections],
    ]);
    metric('mesh_relay_messages_forwarded_total', 'counter', 'Transport messages forwarded.', [
      ['', this.messagesForwarded],
    ]);
    metric('mesh_relay_bytes_forwarded_total', 'counter', 'Transport bytes forwarded (whole frames).', [
      ['', this.bytesForwarded],
    ]);
    metric(
      'mesh_relay_dropped_messages_total',
      'counter',
      'Transport messages dropped, by cause.',
      labelled('cause', this.drops),
    );
    metric(
      'mesh_relay_disconnects_total',
      'counter',
      'Connections closed, by cause.',
      labelled('cause', this.disconnects),
    );
    metric(
      'mesh_relay_auth_failures_total',
      'counter',
      'Rejected auth attempts, by reason.',
      labelled('reason', this.authFailures),
    );
    return `${lines.join('\n')}\n`;
  }
}

/** Serves `text()` on `GET /metrics` at `host:port` (404 for anything else). */
export async function serveMetrics(text: () => string, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(text());
    } else {
      res.writeHead(404).end();
    }
  });
  try {
    await listen(server, port, host);
  } catch (err) {
    server.close();
    throw err;
  }
  return server;
}
