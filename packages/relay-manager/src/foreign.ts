import { type Clock, type Logger, toError } from '@mesh/core';
import type { RelayClientLike } from './client.js';
import { RelayDialError, RelayStoppedError } from './errors.js';
import { Track } from './track.js';

export interface ForeignOptions {
  clock: Clock;
  log: Logger;
  idleMs: number;
  /** Connects a track (closing its client on failure). */
  dial(track: Track): Promise<Track>;
  stopped(): boolean;
}

/**
 * The foreign relays: servers dialled on demand for peers homed elsewhere, one shared client per
 * server URL, each closed once it has had no conn (and no `openConn` in progress) for `idleMs`.
 */
export class ForeignRelays {
  readonly #o: ForeignOptions;
  readonly #tracks = new Map<string, Track>();

  constructor(options: ForeignOptions) {
    this.#o = options;
  }

  get(url: string): Track | undefined {
    return this.#tracks.get(url);
  }

  /** Server URLs with a connected client. */
  servers(): string[] {
    return [...this.#tracks.values()].filter((t) => t.state === 'ready').map((t) => t.url);
  }

  /** Removes `track` if it is still the one for its URL. */
  evict(track: Track): void {
    if (this.#tracks.get(track.url) === track) this.#tracks.delete(track.url);
  }

  /** Empties the table and returns what it held (the caller discards them). */
  takeAll(): Track[] {
    const tracks = [...this.#tracks.values()];
    this.#tracks.clear();
    return tracks;
  }

  /** Starts a shared dial of `url`; every `openConn` for it awaits `track.ready`. */
  dial(url: string): Track {
    const { log } = this.#o;
    const track = new Track(url, false);
    this.#tracks.set(url, track);
    log.info('foreign-dial', { server: url });
    const dial = async (): Promise<RelayClientLike> => {
      try {
        await this.#o.dial(track);
      } catch (err) {
        this.evict(track);
        if (this.#o.stopped()) throw new RelayStoppedError();
        log.warn('foreign-dial-failed', { server: url, error: toError(err) });
        throw new RelayDialError(url, { cause: err });
      }
      track.state = 'ready';
      log.info('foreign-ready', { server: url, instance: track.instanceUrl });
      this.armIdle(track);
      return track.client!;
    };
    track.ready = dial();
    track.ready.catch(() => {}); // waiters get the rejection; nobody waiting is fine too
    return track;
  }

  /** Starts the idle timer of a foreign track with no live conn and no openConn in progress. */
  armIdle(track: Track): void {
    if (track.home || track.state !== 'ready' || this.#o.stopped()) return;
    if (track.busy) {
      track.cancelIdle();
      return;
    }
    track.armIdle(this.#o.clock, this.#o.idleMs, () => {
      this.evict(track);
      this.#o.log.info('foreign-idle-closed', { server: track.url, idleMs: this.#o.idleMs });
      void track.discard(this.#o.log);
    });
  }
}
