import type { PeerKey } from '@mesh/core';
import type { PathKind, PeerConn } from '@mesh/peer-conn';
import type { RelayManager } from '@mesh/relay-manager';

/** `mesh-agent status --json`: documented in the README; fields are only ever added. */
export interface AgentStatus {
  self: { publicKey: string; relay: { home: string | null; connected: boolean } };
  peers: PeerStatus[];
}

export interface PeerStatus {
  publicKey: string;
  path: PathKind;
  /**
   * True once WireGuard data crossed the active path both ways; false while a path is selected that
   * has not carried data yet (shown as `ice-direct (no data yet)`).
   */
  carrying: boolean;
  /** Probe loss per path over the last probes (percent; null until measured or without that path). */
  loss: { ice: number | null; relay: number | null };
  /** ICE ranks below the relay because it was clearly lossier. */
  iceDemoted: boolean;
  /** The host is offline: offers wait for the network to return. */
  offline: boolean;
  /** ISO 8601 time of the last WireGuard handshake; null = never. */
  lastHandshakeAt: string | null;
  rxBytes: number;
  txBytes: number;
  /** Our current ICE session id (10 hex chars); null without ICE. */
  iceSessionId: string | null;
  counters: {
    offersSent: number;
    offersReceived: number;
    relayReopens: number;
    relayTeardowns: number;
    iceSessions: number;
    recoveries: number;
  };
}

export async function collectStatus(
  localKey: PeerKey,
  relays: Pick<RelayManager, 'homeInstanceUrl' | 'ready'> | null,
  peers: readonly Pick<PeerConn, 'status'>[],
): Promise<AgentStatus> {
  const states = await Promise.all(peers.map((p) => p.status()));
  return {
    self: {
      publicKey: localKey.base64,
      relay: { home: relays?.homeInstanceUrl ?? null, connected: relays?.ready ?? false },
    },
    peers: states.map((s) => ({
      publicKey: s.remoteKey,
      path: s.active,
      carrying: s.carrying,
      loss: s.loss,
      iceDemoted: s.iceDemoted,
      offline: s.offline,
      lastHandshakeAt: s.lastHandshakeAt > 0 ? new Date(s.lastHandshakeAt).toISOString() : null,
      rxBytes: s.rxBytes,
      txBytes: s.txBytes,
      iceSessionId: s.ice.localSessionId,
      counters: {
        offersSent: s.counters.offersSent,
        offersReceived: s.counters.offersReceived,
        relayReopens: s.counters.relayReopens,
        relayTeardowns: s.counters.relayTeardowns,
        iceSessions: s.counters.iceSessions,
        recoveries: s.counters.recoveries,
      },
    })),
  };
}

/** Seconds since the last handshake at `now` (wall ms); null = never. */
export function handshakeAgeSec(peer: PeerStatus, now: number): number | null {
  return peer.lastHandshakeAt === null ? null : Math.max(0, (now - Date.parse(peer.lastHandshakeAt)) / 1000);
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

function age(sec: number | null): string {
  if (sec === null) return 'never';
  if (sec < 120) return `${Math.floor(sec)}s ago`;
  if (sec < 7200) return `${Math.floor(sec / 60)}m ago`;
  return `${Math.floor(sec / 3600)}h ago`;
}

/** The PATH column: the path and what qualifies it (offline, no data yet, ICE demoted for loss). */
function pathLabel(p: PeerStatus): string {
  const notes = [
    p.offline ? 'offline' : null,
    p.path !== 'none' && !p.carrying ? 'no data yet' : null,
    p.iceDemoted ? `ICE lossy ${p.loss.ice ?? '?'}%` : null,
  ].filter((n): n is string => n !== null);
  return notes.length > 0 ? `${p.path} (${notes.join(', ')})` : p.path;
}

/** The human form: a header line for this agent, then one table row per peer. */
export function formatStatusTable(status: AgentStatus, now: number): string {
  const relay = status.self.relay;
  const head = `self ${status.self.publicKey}  relay ${relay.home ?? '-'} (${relay.connected ? 'connected' : 'disconnected'})`;
  const rows = [
    ['PEER', 'PATH', 'HANDSHAKE', 'RX', 'TX', 'RECOVERIES'],
    ...status.peers.map((p) => [
      p.publicKey,
      pathLabel(p),
      age(handshakeAgeSec(p, now)),
      bytes(p.rxBytes),
      bytes(p.txBytes),
      String(p.counters.recoveries),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  if (status.peers.length === 0) lines.push('(no peers configured)');
  return `${[head, '', ...lines].join('\n')}\n`;
}
