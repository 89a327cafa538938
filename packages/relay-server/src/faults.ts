import type { Logger } from '@mesh/core';
import { type PeerRef, toPeerId } from '@mesh/relay-client';
import type { Forwarder } from './forwarding.js';
import type { PeerNotifier } from './notifications.js';
import type { PeerRegistry } from './registry.js';
import type { Session } from './session.js';

/** Test-only switches that reproduce silent failures iptables cannot (field-failures §1, §15). */
export interface RelayFaults {
  /** Drops transport between `a` and `b` (both directions); health checks keep being answered. */
  stallPair(a: PeerRef, b: PeerRef): void;
  /** Lets transport between `a` and `b` pass again. */
  unstallPair(a: PeerRef, b: PeerRef): void;
  /**
   * Forgets `peer`'s session without telling its subscribers. By default the socket is cut without a
   * close message (like `ss -K`); with `keepSocket` it stays open and health checks continue, but
   * nothing is routed to or from it. Returns false when the peer was not connected.
   */
  dropSession(peer: PeerRef, options?: { keepSocket?: boolean }): boolean;
  /** Clears stalls (dropped sessions stay dropped). */
  reset(): void;
}

export function makeFaults(server: {
  forwarder: Forwarder;
  registry: PeerRegistry;
  notifier: PeerNotifier;
  log: Logger;
  /** Ends the session without telling its watchers. */
  drop(s: Session): void;
}): RelayFaults {
  const { forwarder, registry, notifier } = server;
  return {
    stallPair: (a, b) => forwarder.stall(toPeerId(a).key, toPeerId(b).key),
    unstallPair: (a, b) => forwarder.unstall(toPeerId(a).key, toPeerId(b).key),
    dropSession: (peer, { keepSocket = false } = {}) => {
      const id = toPeerId(peer);
      const s = registry.get(id.key);
      if (!s) return false;
      server.log.warn('relay-fault-drop-session', { peer: id.toString(), keepSocket });
      if (keepSocket) {
        // Routing forgets it; its socket and health checks live on, so its client suspects nothing.
        registry.unroute(s);
        s.blackholed = true;
        notifier.unwatchAll(s);
        s.offlineInterest.clear();
        s.onlineInterest.clear();
      } else {
        server.drop(s);
      }
      return true;
    },
    reset: () => forwarder.clearStalls(),
  };
}
