import type { DatagramPath } from '@mesh/core';
import { PATH_PRIORITY, type PathKind } from '../types.js';
import type { Components } from './components.js';

/** One path PeerConn holds: the ICE path or the relay conn. */
export interface Slot {
  path: DatagramPath;
  kind: Exclude<PathKind, 'none'>;
  /** The endpoint's latest verdict; null until the first one. */
  alive: boolean | null;
  /** Judged dead by the handshake watcher: never chosen again, waiting to be replaced. */
  dead: boolean;
  /** Relay only: opened to replace a stale entry. */
  reopened: boolean;
  everAlive: boolean;
  /** The endpoint's probe loss over its window, percent; null until measured. */
  lossPct: number | null;
  /** When a probe on it was last answered (monotonic); null before the first. */
  answeredAt: number | null;
  /** Active, and WireGuard data has crossed it both ways since it became active. */
  carrying: boolean;
  /** ICE only: the local session the path belongs to. */
  sessionId?: string;
  /** ICE only: reports a probe answer as consent evidence to the ICE session. */
  consentEvidence?: () => void;
}

/** Usable: attached, not judged dead, not silent. */
export function isUsable(slot: Slot): boolean {
  return !slot.dead && slot.alive !== false && !slot.path.closed;
}

/**
 * The path to carry traffic: the best usable one by `PATH_PRIORITY`, or null. With `iceDemoted`
 * (the quality gate found ICE clearly lossier than the relay) ICE ranks below the relay, but
 * still above nothing. Pure.
 */
export function bestPath(slots: readonly (Slot | null)[], iceDemoted = false): Slot | null {
  const rank = (s: Slot) => (iceDemoted && s.kind !== 'relay' ? PATH_PRIORITY.relay - 0.5 : PATH_PRIORITY[s.kind]);
  let best: Slot | null = null;
  for (const s of slots) {
    if (s !== null && isUsable(s) && (best === null || rank(s) > rank(best))) best = s;
  }
  return best;
}

/**
 * The two slots, which one is active, and outage accounting. Path selection is `bestPath` over
 * the slots; the endpoint is told on every change, and `recovered` is emitted once the new path
 * has answered.
 */
export class PathTable {
  // ---- Owned by PeerConn's queue: only part methods (running in the queue) touch these. ----
  ice: Slot | null = null;
  relay: Slot | null = null;
  #active: Slot | null = null;
  /** When the active path became active (clock ms), and the one before it until then. */
  #activeSince = 0;
  #previous: { slot: Slot; since: number; until: number } | null = null;
  /** Wall ms when traffic last flowed before the current outage; null when not in an outage. */
  #outageSince: number | null = null;
  // -------------------------------------------------------------------------------------------
  readonly #c: Components;
  readonly #iceDemoted: () => boolean;

  constructor(components: Components, init: { iceDemoted: () => boolean }) {
    this.#c = components;
    this.#iceDemoted = init.iceDemoted;
  }

  get active(): Slot | null {
    return this.#active;
  }

  get activeKind(): PathKind {
    return this.#active?.kind ?? 'none';
  }

  /** Live standbys (not active, not judged dead), for status. */
  standby(): PathKind[] {
    return [this.ice, this.relay]
      .filter((s): s is Slot => s !== null && s !== this.#active && !s.dead)
      .map((s) => s.kind);
  }

  slotOf(path: DatagramPath): Slot | null {
    if (this.ice?.path === path) return this.ice;
    if (this.relay?.path === path) return this.relay;
    return null;
  }

  /** A new slot for `path`, attached to the endpoint (the caller stores it and selects). */
  attach(
    path: DatagramPath,
    kind: Slot['kind'],
    extra: Pick<Slot, 'reopened' | 'sessionId' | 'consentEvidence'> = { reopened: false },
  ): Slot {
    this.#c.endpoint.attach(path);
    return {
      path,
      kind,
      alive: null,
      dead: false,
      everAlive: false,
      lossPct: null,
      answeredAt: null,
      carrying: false,
      ...extra,
    };
  }

  /** Stops the endpoint using the path; `select` then picks a successor (and sees the outage). */
  detach(slot: Slot): void {
    this.#c.endpoint.detach(slot.path);
  }

  /**
   * The slot that carried traffic through a window that began `windowMs` ago: the active one if it
   * was active for that long, else the one before it if it was active then (a path switched to a
   * moment ago has not had its chance yet); null if neither.
   */
  activeThrough(windowMs: number): Slot | null {
    const start = this.#c.clock.now() - windowMs;
    if (this.#active && this.#activeSince <= start) return this.#active;
    const prev = this.#previous;
    if (prev && prev.since <= start && prev.until > start && (prev.slot === this.ice || prev.slot === this.relay)) {
      return prev.slot;
    }
    return null;
  }

  /** Makes the best usable path active. */
  select(reason: string): void {
    const best = bestPath([this.ice, this.relay], this.#iceDemoted());
    const prev = this.#active;
    if (best === prev) return;
    const now = this.#c.clock.now();
    if (prev && !isUsable(prev) && this.#outageSince === null) {
      // The active path died: traffic stopped when it last delivered anything, not when we noticed.
      this.#outageSince = prev.path.counters.lastRxAt || now;
    }
    if (prev) {
      this.#previous = { slot: prev, since: this.#activeSince, until: now };
      prev.carrying = false;
    }
    this.#active = best;
    this.#activeSince = now;
    this.#c.endpoint.setActive(best?.path ?? null);
    const info = { from: prev?.kind ?? 'none', to: best?.kind ?? 'none', reason } as const;
    this.#c.log.info('path-changed', info);
    this.#c.emit('path-changed', info);
    this.maybeRecovered();
  }

  /** The endpoint saw WireGuard data cross `path` both ways since it became active. */
  onCarrying(path: DatagramPath): void {
    const slot = this.#active;
    if (slot?.path !== path) return;
    slot.carrying = true;
    this.maybeRecovered();
  }

  /**
   * Ends an outage once WireGuard data crossed the active path both ways: a path that answers
   * probes is not yet a tunnel that carries data (the handshake may still be missing).
   */
  maybeRecovered(): void {
    const slot = this.#active;
    if (this.#outageSince === null || !slot || slot.alive !== true || !slot.carrying) return;
    const outageMs = Math.max(0, this.#c.clock.now() - this.#outageSince);
    this.#outageSince = null;
    this.#c.counters.recoveries++;
    this.#c.log.info('recovered', { outageMs, path: slot.kind });
    this.#c.emit('recovered', { outageMs, path: slot.kind });
  }

  /** Forgets every slot (stop). */
  clear(): void {
    this.ice = null;
    this.relay = null;
    this.#active = null;
    this.#previous = null;
  }
}
