import { type DatagramPath, hasCode, toError } from '@mesh/core';
import type { RelayDisconnectedInfo } from '@mesh/relay-manager';
import type { Components, RelayExistsPolicy } from './components.js';
import { isUnreachable, type Meeting } from './meeting.js';
import type { PathTable } from './path-table.js';

/**
 * This peer's relay conn: the only caller of the relay manager's `openConn` and
 * `closeConnByPeerKey`. It opens the conn on the meeting server on every offer or answer, and owns
 * the **stale** flag (NetBird PR #5866): set by evidence only (a handshake timeout or a silent
 * probe verdict on the relay path, the conn closing, a `relay-disconnected` naming our server), it
 * lets the next `ERR_CONN_ALREADY_EXISTS` replace the entry once; a healthy entry is never torn
 * down by an offer.
 */
export class RelayWorker {
  // ---- Owned by PeerConn's queue: only methods running in the queue touch these. ----
  #server: string | null = null;
  #stale = false;
  /** What set the flag; a `silent` verdict is withdrawn when the path answers again. */
  #staleReason = '';
  /** Bumped by every open attempt and close, so a late result of an older attempt is discarded. */
  #gen = 0;
  /** The server an open is in flight to, or null. */
  #opening: string | null = null;
  // ---------------------------------------------------------------------------------------
  readonly #c: Components;
  readonly #paths: PathTable;
  readonly #meeting: Meeting;
  readonly #policy: RelayExistsPolicy;

  constructor(components: Components, init: { paths: PathTable; meeting: Meeting; policy: RelayExistsPolicy }) {
    this.#c = components;
    this.#paths = init.paths;
    this.#meeting = init.meeting;
    this.#policy = init.policy;
  }

  get server(): string | null {
    return this.#server;
  }

  get stale(): boolean {
    return this.#stale;
  }

  /** Up on the server the rule names now (up on a server we no longer meet on is not up). */
  get upOnMeetingServer(): boolean {
    const slot = this.#paths.relay;
    return slot !== null && !slot.dead && slot.alive !== false && this.#server === this.#meeting.server();
  }

  /** Every offer or answer, sent or received: make sure a conn to the meeting server exists or is opening. */
  onOffer(): void {
    const relay = this.#c.relay;
    this.#meeting.dropOutdatedMark();
    const server = this.#meeting.server();
    if (!relay || !server) return;
    const opening = this.#opening;
    if (opening === server) return;
    if (opening !== null) {
      // The meeting server moved while an open to the old one still waits (e.g. for the remote to
      // come online there): abandon it, or it would hold us up to the open timeout.
      this.#gen++;
      this.#opening = null;
      void relay.closeConnByPeerKey(opening, this.#c.remoteKey).catch(() => {});
    }
    if (this.#paths.relay && this.#server !== server) {
      // The meeting server moved (F-R-12): the old entry is useless.
      this.close('server-moved');
    }
    this.#open(server, false);
  }

  /** Evidence the entry is dead: the next offer replaces it. */
  markStale(reason: string): void {
    if (this.#stale) return;
    this.#stale = true;
    this.#staleReason = reason;
    this.#c.log.info('stale-marked', { reason, server: this.#server });
    this.#c.emit('stale-marked', { reason, server: this.#server });
    this.#c.guard.kick();
  }

  /** The relay path answered again: a `silent` mark was a blip, not a dead entry. */
  onAnswered(): void {
    if (!this.#stale || this.#staleReason !== 'silent') return;
    this.#stale = false;
    this.#c.log.info('stale-cleared', { server: this.#server });
  }

  /** The relay path went silent. A fresh entry that never carried a byte means the server forgot our session. */
  onSilent(): void {
    const slot = this.#paths.relay;
    this.markStale('silent');
    // The socket looks healthy while no entry on it can work: only a new login helps.
    if (slot?.reopened && !slot.everAlive && this.#server) {
      this.#c.relay?.reconnect(this.#server, 'reopened-conn-silent');
    }
  }

  /** The conn closed under us. */
  onClosed(reason: string): void {
    this.#paths.relay = null;
    this.markStale(`closed:${reason}`);
  }

  /** The manager lost a server connection: stale only if it is the one our conn is on. */
  onServerDisconnected(info: RelayDisconnectedInfo): void {
    if (info.serverUrl !== this.#server || !info.peers.some((p) => p.equals(this.#c.remoteKey))) return;
    this.markStale(`relay-disconnected:${info.cause}`);
  }

  /** Detaches and closes our relay conn; counts a tear-down. */
  close(reason: string): void {
    const slot = this.#paths.relay;
    this.#gen++;
    this.#opening = null;
    this.#c.counters.relayTeardowns++;
    this.#c.log.info('relay-closed', { reason, server: this.#server });
    if (slot) {
      this.#paths.detach(slot);
      slot.path.close();
    }
    this.#paths.relay = null;
    this.#paths.select(`relay-${reason}`);
  }

  /** A side open for the follower's probe of an unreachable server, closed at once. */
  probe(url: string): Promise<void> {
    const relay = this.#c.relay;
    if (!relay) return Promise.resolve();
    return relay.openConn(url, this.#c.remoteKey).then((conn) => conn.close());
  }

  /** Closes the conn and every entry we opened or are opening (no orphan holds a foreign relay). */
  stop(): Promise<unknown> {
    this.#gen++;
    const relay = this.#c.relay;
    this.#paths.relay?.path.close();
    this.#paths.relay = null;
    const servers = new Set([this.#server, this.#opening].filter((s): s is string => s !== null));
    this.#opening = null;
    if (!relay) return Promise.resolve();
    return Promise.all([...servers].map((s) => relay.closeConnByPeerKey(s, this.#c.remoteKey).catch(() => {})));
  }

  #open(server: string, isReopen: boolean): void {
    const relay = this.#c.relay!;
    const gen = ++this.#gen;
    this.#opening = server;
    relay.openConn(server, this.#c.remoteKey).then(
      (conn) => {
        // After stop the queue runs nothing: close a late conn here, or it would be an orphan.
        if (!this.#c.running) conn.close();
        else this.#c.run('relay-opened', () => this.#onOpened(gen, server, conn, isReopen));
      },
      (err: unknown) => this.#c.run('relay-open-failed', () => this.#onOpenFailed(gen, server, toError(err), isReopen)),
    );
  }

  #onOpened(gen: number, server: string, conn: DatagramPath, isReopen: boolean): void {
    if (gen !== this.#gen) {
      conn.close();
      return;
    }
    this.#opening = null;
    const old = this.#paths.relay;
    if (old && old.path !== conn) this.#paths.detach(old);
    this.#server = server;
    this.#stale = false;
    this.#c.counters.relayOpens++;
    if (isReopen) this.#c.counters.relayReopens++;
    this.#paths.relay = this.#paths.attach(conn, 'relay', { reopened: isReopen });
    this.#c.log.info('relay-opened', { server, reopen: isReopen });
    this.#paths.select('relay-opened');
  }

  async #onOpenFailed(gen: number, server: string, err: Error, isReopen: boolean): Promise<void> {
    if (gen !== this.#gen) return;
    this.#opening = null;
    if (!hasCode(err, 'ERR_CONN_ALREADY_EXISTS')) {
      this.#c.log.info('relay-open-failed', { server, error: err });
      if (isUnreachable(err)) this.#meeting.markUnreachable(server);
      return;
    }
    await this.#onAlreadyExists(server, isReopen);
  }

  /**
   * An entry exists. Replace it only on evidence that it is dead (NetBird PR #5866): our stale
   * flag, or an entry we do not hold (nobody reads it, so nothing healthy can be torn down).
   */
  async #onAlreadyExists(server: string, isReopen: boolean): Promise<void> {
    const orphan = this.#paths.relay === null || this.#server !== server;
    const replace = this.#policy === 'always-reopen' || (this.#policy === 'stale-flag' && (this.#stale || orphan));
    if (!replace || isReopen) {
      this.#c.log.debug('relay-exists-kept', { server, stale: this.#stale, policy: this.#policy });
      return;
    }
    this.#stale = false;
    this.close('replace-stale');
    this.#server = server;
    await this.#c.relay!.closeConnByPeerKey(server, this.#c.remoteKey);
    if (!this.#c.running) return;
    this.#open(server, true);
  }
}
