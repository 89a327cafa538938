import type { DatagramPath } from '@mesh/core';
import { type HandshakeTimeoutInfo, type HandshakeWatcher, REKEY_TIMEOUT_MS } from '@mesh/wg-control';
import type { Components } from './components.js';
import type { IceDriver } from './ice-driver.js';
import type { PathTable, Slot } from './path-table.js';
import type { RelayWorker } from './relay-worker.js';

/**
 * Liveness verdicts → repairs, in one place. Evidence is the PeerEndpoint's probe verdicts
 * (`path-alive` / `path-silent` / `path-closed`) and the HandshakeWatcher's `handshake-timeout`;
 * a dead relay path becomes `relayWorker.markStale()`, a dead ICE path `iceDriver.iceDead()`.
 */
export class Liveness {
  readonly #c: Components;
  readonly #paths: PathTable;
  readonly #relay: RelayWorker;
  readonly #ice: IceDriver;
  readonly #watcher: () => HandshakeWatcher | null;

  constructor(
    components: Components,
    init: { paths: PathTable; relay: RelayWorker; ice: IceDriver; watcher: () => HandshakeWatcher | null },
  ) {
    this.#c = components;
    this.#paths = init.paths;
    this.#relay = init.relay;
    this.#ice = init.ice;
    this.#watcher = init.watcher;
  }

  onVerdict(path: DatagramPath, alive: boolean): void {
    const slot = this.#paths.slotOf(path);
    if (!slot) return;
    const was = slot.alive;
    slot.alive = alive;
    if (alive) {
      slot.everAlive = true;
      if (slot === this.#paths.relay) this.#relay.onAnswered();
      this.#paths.select('path-alive');
      this.#paths.maybeRecovered();
      return;
    }
    if (was === false) return;
    if (slot !== this.#paths.active && !this.#c.endpoint.pathStatus(path)?.probeCapable) {
      // Without probes a standby carries no traffic at all, so its silence proves nothing.
      slot.alive = null;
      return;
    }
    this.#c.log.info('path-silent', { kind: slot.kind, active: slot === this.#paths.active });
    // A probe verdict is end-to-end evidence: a silent relay entry is dead whether it is active or
    // a standby (a dead standby would otherwise linger until it is needed: NetBird F-R-5).
    if (slot.kind === 'relay') this.#relay.onSilent();
    else this.#ice.iceDead(slot, 'silent');
    this.#paths.select('path-silent');
    this.#c.guard.kick();
  }

  /**
   * No WireGuard handshake in the watcher's window. Charged to the path that carried the window —
   * not to one switched to less than REKEY_TIMEOUT ago, through which WireGuard has not even had
   * the chance to retry (that one gets a fresh window).
   */
  onHandshakeTimeout(info: HandshakeTimeoutInfo): void {
    const active = this.#paths.active;
    const slot = active ? this.#paths.activeThrough(REKEY_TIMEOUT_MS) : null;
    this.#c.log.info('handshake-timeout', {
      reason: info.reason,
      active: active?.kind ?? 'none',
      ...(slot !== active ? { charged: slot?.kind ?? 'none' } : {}),
    });
    if (slot) {
      slot.dead = true;
      if (slot.kind === 'relay') this.#relay.markStale('handshake-timeout');
      else this.#ice.iceDead(slot, 'handshake-timeout');
      this.#paths.select('handshake-timeout');
    }
    // Re-arm: the next path gets a fresh first-handshake window.
    void this.#watcher()
      ?.reset()
      .catch(() => {});
    // With no path at all the verdict repeats every window and says nothing new: a running ladder
    // keeps its pace (a kick per window would mean ~7 offers per window per side, forever).
    if (slot || !this.#c.guard.armed) this.#c.guard.kick();
  }

  onPathClosed(path: DatagramPath, reason: string): void {
    const slot: Slot | null = this.#paths.slotOf(path);
    if (!slot) return;
    if (slot === this.#paths.relay) this.#relay.onClosed(reason);
    else if (slot === this.#paths.ice) this.#paths.ice = null;
    this.#paths.select(`${slot.kind}-closed`);
    this.#c.guard.kick();
  }
}
