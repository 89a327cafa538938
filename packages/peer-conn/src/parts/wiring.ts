import type { Signaler, Subscriptions } from '@mesh/core';
import type { IceWorker } from '@mesh/ice-worker';
import type { HandshakeWatcher, PeerEndpoint } from '@mesh/wg-control';
import type { SignalMessage } from '../messages.js';
import type { RelayPort } from '../types.js';
import type { Components } from './components.js';
import type { Handshaker } from './handshaker.js';
import type { IceDriver } from './ice-driver.js';
import type { Liveness } from './liveness.js';
import type { PathTable } from './path-table.js';
import type { PathQuality } from './quality.js';
import type { RelayWorker } from './relay-worker.js';

export interface Sources {
  signaler: Signaler<SignalMessage>;
  endpoint: PeerEndpoint;
  watcher: HandshakeWatcher;
  relay: RelayPort | null;
  ice: IceWorker | null;
}

export interface Handlers {
  handshaker: Handshaker;
  liveness: Liveness;
  quality: PathQuality;
  paths: PathTable;
  relay: RelayWorker;
  ice: IceDriver;
  /** Something changed that may need an offer (the guard re-checks). */
  kick: () => void;
  /** The signaler's transport came back: offer again at once unless both ways are up. */
  onSignalConnected: () => void;
  /** Our home relay moved: the meeting rule may name another server. */
  onHomeChanged: () => void;
}

/**
 * Every event PeerConn listens to, and the part that handles it: the one table to read to see
 * which event goes where. Each handler runs in the per-peer queue (`c.run`), except the trickle of
 * our own candidates, which only sends. Names and payloads are checked against each emitter's map.
 */
export function wire(subs: Subscriptions, c: Components, src: Sources, h: Handlers): void {
  subs.on(src.signaler, 'message', (from, raw) => {
    if (from.equals(c.remoteKey)) c.run('signal-message', () => h.handshaker.onSignal(raw));
  });
  subs.on(src.signaler, 'connected', () => c.run('signal-connected', h.onSignalConnected));

  // Liveness: probe verdicts and WireGuard's handshakes.
  subs.on(src.endpoint, 'path-alive', ({ path }) => c.run('path-alive', () => h.liveness.onVerdict(path, true)));
  subs.on(src.endpoint, 'path-silent', ({ path }) => c.run('path-silent', () => h.liveness.onVerdict(path, false)));
  subs.on(src.endpoint, 'path-probe', (info) => c.run('path-probe', () => h.quality.onProbe(info)));
  subs.on(src.endpoint, 'remote-path', ({ path, from }) =>
    c.run('remote-path', () => h.quality.onRemotePath(path, from)),
  );
  subs.on(src.endpoint, 'path-carrying', ({ path }) => c.run('path-carrying', () => h.paths.onCarrying(path)));
  subs.on(src.endpoint, 'path-closed', ({ path, reason }) =>
    c.run('path-closed', () => h.liveness.onPathClosed(path, reason)),
  );
  subs.on(src.watcher, 'handshake-timeout', (info) =>
    c.run('handshake-timeout', () => h.liveness.onHandshakeTimeout(info)),
  );

  if (src.relay) {
    subs.on(src.relay, 'relay-disconnected', (info) =>
      c.run('relay-disconnected', () => h.relay.onServerDisconnected(info)),
    );
    subs.on(src.relay, 'reconnected', () => c.run('relay-reconnected', h.kick));
    subs.on(src.relay, 'home-changed', () => c.run('home-changed', h.onHomeChanged));
  }

  if (src.ice) {
    subs.on(src.ice, 'local-candidate', (m) => h.handshaker.onLocalCandidate(m));
    subs.on(src.ice, 'connected', (info) => c.run('ice-connected', () => h.ice.onConnected(info)));
    subs.on(src.ice, 'disconnected', (info) => c.run('ice-disconnected', () => h.ice.onDisconnected(info)));
    subs.on(src.ice, 'session-rotated', (info) => h.ice.onSessionRotated(info));
  }
}
