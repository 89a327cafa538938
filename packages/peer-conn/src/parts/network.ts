import type { HostNetworkChange, PathKind } from '../types.js';

/** What PeerConn does about a change of the host's network. */
export interface NetworkReaction {
  /** Offline: park the offer ladder (offers cannot leave). */
  park: boolean;
  /** Rotate the ICE session so the next offer gathers on today's interfaces. */
  rotateIce: boolean;
  /** Restart the offer ladder at once. */
  kick: boolean;
}

/**
 * The rule, pure. Offline: park, nothing else. Back online, an address gone or the default route
 * moved: the session's candidates or mappings may be dead — rotate ICE and offer at once. Only an
 * address added: a new interface may offer a better path, so rotate unless ICE is already direct.
 */
export function networkReaction(
  change: HostNetworkChange,
  state: { parked: boolean; active: PathKind },
): NetworkReaction {
  if (!change.online) return { park: true, rotateIce: false, kick: false };
  const moved = state.parked || change.defaultRouteChanged || change.addressesRemoved > 0;
  const added = change.addressesAdded > 0;
  return { park: false, rotateIce: moved || (added && state.active !== 'ice-direct'), kick: moved || added };
}
