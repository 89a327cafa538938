import type { PeerId } from '@mesh/relay-client';
import type { Session } from './session.js';

/** The authenticated sessions, and the one routed for each peer id (a replaced one is not). */
export class PeerRegistry {
  readonly #routed = new Map<string, Session>();
  readonly #sessions = new Set<Session>();

  /** Routed peers. */
  get size(): number {
    return this.#routed.size;
  }

  /** Every live session, routed or not. */
  sessions(): Session[] {
    return [...this.#sessions];
  }

  ids(): PeerId[] {
    return [...this.#routed.values()].map((s) => s.id);
  }

  /** The session routed for an id key. */
  get(key: string): Session | undefined {
    return this.#routed.get(key);
  }

  add(s: Session): void {
    this.#sessions.add(s);
  }

  /** Makes `s` the routed session for its id. */
  route(s: Session): void {
    this.#routed.set(s.id.key, s);
  }

  /** Stops routing to `s`; true when it was the routed one. */
  unroute(s: Session): boolean {
    if (this.#routed.get(s.id.key) !== s) return false;
    this.#routed.delete(s.id.key);
    return true;
  }

  /** Forgets `s` entirely; true when it was the routed one. */
  remove(s: Session): boolean {
    this.#sessions.delete(s);
    return this.unroute(s);
  }
}
