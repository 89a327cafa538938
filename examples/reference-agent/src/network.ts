import { type Logger, listen } from '@mesh/core';
import type { NetworkChange, NetworkMonitor } from '@mesh/net-monitor';
import type { PeerConn } from '@mesh/peer-conn';
import type { RelayManager } from '@mesh/relay-manager';
import type { AgentSignaler } from './minimal.js';

/** The parts of SignalClient a network change acts on; another signaler may lack them. */
interface NetworkAwareSignaler {
  readonly connected: boolean;
  readonly localAddress: string | undefined;
  check(): Promise<boolean>;
  reconnect(reason: string): void;
  reconnectNow(reason: string): void;
}

function networkAware(s: AgentSignaler): s is AgentSignaler & NetworkAwareSignaler {
  const maybe = s as Partial<NetworkAwareSignaler>;
  return typeof maybe.check === 'function' && typeof maybe.reconnect === 'function';
}

/** What the agent's reaction to a network change acts on. */
export interface NetworkTargets {
  signaler: AgentSignaler;
  relays: RelayManager | null;
  /** The configured relay URLs (a home reconnect waiting on its ladder is woken on these). */
  relayUrls: readonly string[];
  peers: readonly PeerConn[];
  log: Logger;
}

/**
 * Acts on each debounced change of the host's network: every PeerConn hears it (offline parks the
 * offer ladders; a moved network rotates ICE and offers at once); when the network moved (an
 * address gone, the default route changed, back online) signaling and relay connections are tested
 * at once instead of after their keepalives: one whose local address is gone is dropped and
 * redialled, the others must answer a ping within the pong timeout. Returns the unsubscribe.
 */
export function reactToNetwork(monitor: NetworkMonitor, t: NetworkTargets): () => void {
  return listen(monitor, 'change', (c) => onNetworkChange(c, t));
}

function onNetworkChange(c: NetworkChange, t: NetworkTargets): void {
  // An address that only moved to another interface or prefix is still ours: not gone.
  const still = new Set(c.snapshot.addresses.map((a) => a.address));
  const gone = new Set(c.addressesRemoved.map((a) => a.address).filter((a) => !still.has(a)));
  // Offline (peers park) only with no way out at all: a host that reaches its peers without a
  // default route in the main table (a LAN-only mesh, policy routing, a VRF) still has addresses.
  const online = c.online || c.snapshot.addresses.length > 0;
  t.log.info('network-changed', {
    added: c.addressesAdded.map((a) => a.address),
    removed: [...gone],
    defaultRouteChanged: c.defaultRouteChanged,
    online,
  });
  const change = {
    online,
    addressesAdded: c.addressesAdded.length,
    addressesRemoved: gone.size,
    defaultRouteChanged: c.defaultRouteChanged,
  };
  for (const peer of t.peers) void peer.networkChanged(change);
  if (!online || !(c.cameOnline || c.defaultRouteChanged || gone.size > 0)) return;
  const s = t.signaler;
  if (networkAware(s)) {
    const local = s.localAddress;
    if (local !== undefined && gone.has(local)) s.reconnect('local-address-gone');
    else if (s.connected) s.check().catch(() => {});
    else s.reconnectNow('network-change');
  }
  const relays = t.relays;
  if (relays) {
    const live = [relays.homeInstanceUrl, ...relays.foreignServers()].filter((u): u is string => u !== undefined);
    for (const url of live) relays.verify(url, 'network-change').catch(() => {});
    for (const url of t.relayUrls) relays.retryHome(url, 'network-change');
  }
}
