import type { Backoff, Timer } from '@mesh/core';
import type { IceConnectedInfo, IceDisconnectedInfo, IceSessionRotatedInfo, IceWorker } from '@mesh/ice-worker';
import type { Components } from './components.js';
import type { PathTable, Slot } from './path-table.js';

/**
 * The ICE side of one peer: attaches the ICE path when a session connects, rotates the session
 * (`iceDead` → `resetSessionId()`, so the next offer builds fresh agents on both sides) when the
 * path is judged dead, and retries TURN pairs for a direct one on a backed-off ladder.
 */
export class IceDriver {
  // ---- Owned by PeerConn's queue. ----
  #worker: IceWorker | null = null;
  #turnUpgradeTimer: Timer | undefined;
  // ------------------------------------
  readonly #c: Components;
  readonly #paths: PathTable;
  readonly #turnUpgrade: Backoff;

  constructor(components: Components, init: { paths: PathTable; turnUpgrade: Backoff }) {
    this.#c = components;
    this.#paths = init.paths;
    this.#turnUpgrade = init.turnUpgrade;
  }

  /** Null: no ICE (relay only), or not started yet. */
  get worker(): IceWorker | null {
    return this.#worker;
  }

  /** The worker is live and can offer (not closed). */
  get offering(): IceWorker | null {
    return this.#worker && !this.#worker.closed ? this.#worker : null;
  }

  start(worker: IceWorker | null): void {
    this.#worker = worker;
  }

  /** A remote session id whose agent is gone: anything still naming it is old news. */
  isDeadRemoteSession(id: string): boolean {
    return this.#worker?.isDeadRemoteSession(id) ?? false;
  }

  onConnected(info: IceConnectedInfo): void {
    const old = this.#paths.ice;
    if (old && old.path !== info.path) this.#paths.detach(old);
    this.#c.counters.iceSessions++;
    this.#paths.ice = this.#paths.attach(info.path, info.pair.kind, {
      reopened: false,
      sessionId: info.sessionId,
      consentEvidence: () => info.path.consentEvidence(),
    });
    this.#turnUpgradeTimer?.cancel();
    if (info.pair.kind === 'ice-direct') this.#turnUpgrade.reset();
    else if (this.#c.controller) this.#scheduleTurnUpgrade();
    this.#c.log.info('ice-connected', {
      kind: info.pair.kind,
      session: info.sessionId,
      local: info.pair.local,
      remote: info.pair.remote,
    });
    this.#paths.select('ice-connected');
  }

  onDisconnected(info: IceDisconnectedInfo): void {
    const slot = this.#paths.ice;
    if (slot && slot.sessionId === info.sessionId) {
      this.#paths.detach(slot);
      this.#paths.ice = null;
      this.#paths.select(`ice-${info.reason}`);
    }
    if (info.wasConnected) this.#c.guard.kick();
  }

  onSessionRotated(info: IceSessionRotatedInfo): void {
    this.#c.log.info('session-rotated', { old: info.old, new: info.new, cause: info.cause });
    this.#c.emit('session-rotated', info);
  }

  /** The ICE session behind `slot` is dead: rotate so the next offer builds fresh agents on both sides. */
  iceDead(slot: Slot, cause: string): void {
    this.#c.log.info('ice-dead', { cause, kind: slot.kind });
    this.#paths.detach(slot);
    if (this.#paths.ice === slot) this.#paths.ice = null;
    this.#worker?.resetSessionId();
  }

  /**
   * The host's network changed under the session (an address it may use is gone, the default route
   * moved, or the network came back): rotate, so the next offer gathers on today's interfaces.
   */
  rotateForNetwork(): void {
    const slot = this.#paths.ice;
    if (slot) this.iceDead(slot, 'network-change');
    else this.#worker?.resetSessionId();
  }

  stop(): Promise<unknown> {
    this.#turnUpgradeTimer?.cancel();
    return this.#worker?.close() ?? Promise.resolve();
  }

  #scheduleTurnUpgrade(): void {
    this.#turnUpgradeTimer?.cancel();
    this.#turnUpgradeTimer = this.#c.clock.setTimeout(
      () => this.#c.run('turn-upgrade', () => this.#tryTurnUpgrade()),
      this.#turnUpgrade.next(),
    );
  }

  /**
   * A TURN pair often wins only because it was negotiated while UDP was blocked; once UDP is back a
   * new session finds the direct pair. Try only with a live relay standby to carry traffic
   * meanwhile, and back off (to 10 min) while attempts keep ending on TURN (symmetric NATs).
   */
  #tryTurnUpgrade(): void {
    const ice = this.#paths.ice;
    if (ice?.kind !== 'ice-turn') return;
    const relay = this.#paths.relay;
    if (!relay || relay.dead || relay.alive !== true) {
      this.#scheduleTurnUpgrade();
      return;
    }
    this.#c.log.info('ice-upgrade-attempt', { attempt: this.#turnUpgrade.attempt });
    this.iceDead(ice, 'upgrade');
    this.#paths.select('ice-upgrade');
    this.#c.guard.kick();
  }
}
