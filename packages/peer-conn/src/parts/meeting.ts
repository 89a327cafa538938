import { hasCode, type Timer, toError } from '@mesh/core';
import type { Components } from './components.js';
import type { RemoteView } from './remote-view.js';

/** Everything the meeting rule looks at. */
export interface MeetingView {
  controller: boolean;
  /** Our home relay; null while we have none. */
  home: string | null;
  /** The remote's home relay from its latest offer or answer; null while it has none. */
  remoteHome: string | null;
  /** Controller: the URL the follower said it cannot reach. */
  remoteUnreachable: string | null;
  /** Follower: the controller's home we failed to reach (our mark). */
  mark: string | null;
  /** The remote speaks `relay-fallback`. */
  remoteFallback: boolean;
}

/**
 * The relay both sides meet on (F-R-12, NetBird #4498): the controller's home, unless the follower
 * marked exactly that URL unreachable and has a home of its own, or the controller has no home —
 * then the follower's home, which the controller dials as a foreign relay. Peers without
 * `relay-fallback` only ever meet on the controller's home. Pure; both sides apply it to the
 * other's latest offer or answer, so they converge on one server.
 */
export function chooseMeetingServer(v: MeetingView): string | null {
  if (v.controller) {
    if (v.home === null) return v.remoteFallback ? v.remoteHome : null;
    return v.remoteHome !== null && v.remoteUnreachable === v.home ? v.remoteHome : v.home;
  }
  if (v.remoteHome === null) return v.remoteFallback ? v.home : null;
  return fallbackActive(v) ? v.home : v.remoteHome;
}

/** Follower: our mark applies to the controller's current home and we can offer ours instead. */
export function fallbackActive(v: MeetingView): boolean {
  return v.mark !== null && v.home !== null && v.mark === v.remoteHome && v.mark !== v.home && v.remoteFallback;
}

/**
 * Errors that say the relay server itself could not be reached or lost us: a failed dial (refused,
 * reset, timed out, rejected) or the connection dying while opening. Not: an existing entry, the
 * remote not being online there, our own close or stop.
 */
export function isUnreachable(err: Error): boolean {
  return hasCode(err, 'ERR_RELAY_DIAL_FAILED') || hasCode(err, 'ERR_RELAY_DISCONNECTED');
}

export interface MeetingHooks {
  /** Our side of the rule changed: move the relay conn and tell the remote now. */
  moved(): void;
  /** A side open of `url` that is closed at once; rejects like `openConn`. */
  probe(url: string): Promise<void>;
}

/**
 * The meeting rule applied to this peer, and the follower's unreachable mark: set when an open on
 * the controller's home fails as unreachable, probed with a side open after the TTL, dropped when
 * the controller's home moves.
 */
export class Meeting {
  // ---- Owned by PeerConn's queue. ----
  #mark: { url: string; timer: Timer | undefined } | null = null;
  // ------------------------------------
  readonly #c: Components;
  readonly #remote: RemoteView;
  readonly #hooks: MeetingHooks;
  readonly #ttlMs: number;

  constructor(components: Components, remote: RemoteView, hooks: MeetingHooks, ttlMs: number) {
    this.#c = components;
    this.#remote = remote;
    this.#hooks = hooks;
    this.#ttlMs = ttlMs;
  }

  view(): MeetingView {
    return {
      controller: this.#c.controller,
      home: this.#c.relay?.homeInstanceUrl ?? null,
      remoteHome: this.#remote.relayUrl,
      remoteUnreachable: this.#remote.unreachable,
      mark: this.#mark?.url ?? null,
      remoteFallback: this.#remote.has('relay-fallback'),
    };
  }

  /** The server to meet on now; null without a relay or while the rule names none. */
  server(): string | null {
    return this.#c.relay ? chooseMeetingServer(this.view()) : null;
  }

  /** Follower, while marked: the controller's home it could not reach. */
  get markedUrl(): string | undefined {
    return this.#mark?.url;
  }

  /**
   * Follower: the controller's home relay could not be reached. Remember it, meet on our home
   * instead and tell the controller at once (the mark rides on every offer and answer). Only with
   * a controller that understands the mark: an older one would keep waiting on its home.
   */
  markUnreachable(server: string): void {
    const v = this.view();
    const applies =
      !v.controller && v.remoteFallback && v.home !== null && server === v.remoteHome && server !== v.home;
    if (!applies || this.#mark !== null) return;
    this.#mark = { url: server, timer: undefined };
    this.#armProbe();
    this.#c.log.info('relay-unreachable-marked', { server, fallback: v.home, ttlMs: this.#ttlMs });
    this.#hooks.moved();
  }

  /** Forgets a mark that no longer describes the controller's home (it moved, or became ours). */
  dropOutdatedMark(): void {
    const mark = this.#mark;
    if (!mark) return;
    const remote = this.#remote.relayUrl;
    if ((remote !== null && remote !== mark.url) || mark.url === this.#c.relay?.homeInstanceUrl) {
      this.#clear('home-moved');
    }
  }

  stop(): void {
    this.#mark?.timer?.cancel();
  }

  #clear(reason: string): void {
    const mark = this.#mark;
    if (!mark) return;
    mark.timer?.cancel();
    this.#mark = null;
    this.#c.log.info('relay-unreachable-cleared', { server: mark.url, reason });
  }

  #armProbe(): void {
    const mark = this.#mark!;
    mark.timer = this.#c.clock.setTimeout(() => {
      mark.timer = undefined;
      this.#c.run('relay-probe', () => this.#probe(mark));
    }, this.#ttlMs);
  }

  /**
   * The mark expired: dial the preferred server on the side, without leaving the fallback. Only a
   * success moves both sides back (one tear-down each); a failure keeps everything as it is for
   * another TTL, so an unreachable preferred server costs one dial per TTL and no offers.
   */
  #probe(mark: { url: string }): void {
    if (this.#mark !== mark || !this.#c.relay) return;
    if (!fallbackActive(this.view())) {
      // We are not avoiding it at the moment anyway (no home of our own, …): the normal opens try it.
      this.#clear('expired');
      return;
    }
    this.#c.log.info('relay-probe', { server: mark.url });
    this.#hooks.probe(mark.url).then(
      () =>
        this.#c.run('relay-probe-ok', () => {
          if (this.#mark !== mark) return;
          this.#clear('probe-ok');
          this.#hooks.moved();
        }),
      (err: unknown) =>
        this.#c.run('relay-probe-failed', () => {
          if (this.#mark !== mark) return;
          const error = toError(err);
          if (isUnreachable(error)) {
            this.#c.log.info('relay-probe-failed', { server: mark.url, error });
            this.#armProbe();
            return;
          }
          // Reachable, something else went wrong (e.g. the controller is not there): let the normal
          // opens find out; a dial failure there marks it again.
          this.#clear('probe-inconclusive');
          this.#hooks.moved();
        }),
    );
  }
}
