import { RELAY_EXISTS_POLICY, type RelayExistsPolicy, type TestHooks } from '../parts/components.js';
import type { PeerConnOptions } from '../types.js';

export type { RelayExistsPolicy };

/**
 * Options for a PeerConn that answers `ERR_CONN_ALREADY_EXISTS` with `policy` instead of the stale
 * flag: `reuse` is NetBird's old bug (a dead entry reused forever), `always-reopen` its naive fix
 * (healthy entries torn down by every offer). For negative controls only, so it lives here and not
 * in the public options.
 */
export function withRelayExistsPolicy<T extends PeerConnOptions>(options: T, policy: RelayExistsPolicy): T {
  return Object.assign({}, options, { [RELAY_EXISTS_POLICY]: policy } satisfies TestHooks);
}
