import { abortReason, type Clock, type Logger, type PeerKey, throwIfAborted, toError, withDeadline } from '@mesh/core';
import { RelayDisconnectedError } from '@mesh/relay-client';
import type { RelayClientFactory, RelayClientLike } from './client.js';
import { RelayNoHomeError, RelayStoppedError } from './errors.js';
import { Track } from './track.js';

export interface DialerOptions {
  urls: readonly string[];
  factory: RelayClientFactory;
  localKey: PeerKey;
  /** The current token, read at every dial. */
  token(): string;
  clock: Clock;
  log: Logger;
  raceConcurrency: number;
  raceTimeoutMs: number;
  /** Subscribes to a new track's client before it connects, so no event is missed. */
  attach(track: Track, client: RelayClientLike): void;
  stopped(): boolean;
}

/** Makes tracks live: one dial (home or foreign), or the home race over every URL. */
export class RelayDialer {
  readonly #o: DialerOptions;

  constructor(options: DialerOptions) {
    this.#o = options;
  }

  /** Connects the track's client within raceTimeoutMs; on failure its client is closed. */
  async dial(track: Track, signal: AbortSignal): Promise<Track> {
    try {
      await withDeadline(this.#o.raceTimeoutMs, (s) => this.#connect(track, s), {
        signal,
        clock: this.#o.clock,
        what: `dial ${track.url}`,
      });
      return track;
    } catch (err) {
      await track.discard(this.#o.log);
      throw err;
    }
  }

  /** Home race: first to authenticate wins, the rest are aborted or closed. */
  async pickHome(signal: AbortSignal): Promise<Track> {
    try {
      return await withDeadline(this.#o.raceTimeoutMs, (deadline) => this.#race(deadline), {
        signal,
        clock: this.#o.clock,
        what: 'home relay race',
      });
    } catch (err) {
      if (this.#o.stopped()) throw new RelayStoppedError();
      if (err instanceof RelayNoHomeError) throw err;
      if (signal.aborted) throw abortReason(signal);
      throw new RelayNoHomeError(`no relay server answered: ${toError(err).message}`, { cause: err });
    }
  }

  /** Creates the track's client, listens to it from the first instant, and connects it. */
  async #connect(track: Track, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const { log } = this.#o;
    const client = this.#o.factory(track.url, {
      localKey: this.#o.localKey,
      token: () => this.#o.token(),
      clock: this.#o.clock,
      logger: log.child({ relay: track.url }),
    });
    track.client = client;
    this.#o.attach(track, client);
    await client.connect({ signal });
    // Died between authenticating and our continuation running: a failed dial, not a home.
    if (track.state === 'dead') throw new RelayDisconnectedError(`relay ${track.url} disconnected right after auth`);
    track.instanceUrl = client.instanceUrl ?? track.url;
  }

  #race(deadline: AbortSignal): Promise<Track> {
    const { urls, raceConcurrency, log } = this.#o;
    // One controller per attempt: aborting the losers must not touch the winner's signal, which
    // its client may keep watching.
    const attempts = new Map<Track, AbortController>();
    const errors: Error[] = [];
    let next = 0;
    let running = 0;
    let done = false;
    return new Promise<Track>((resolve, reject) => {
      const launch = () => {
        while (!done && running < raceConcurrency && next < urls.length) {
          const track = new Track(urls[next++]!, true);
          const ac = new AbortController();
          attempts.set(track, ac);
          running++;
          this.#connect(track, AbortSignal.any([deadline, ac.signal])).then(
            () => {
              running--;
              attempts.delete(track);
              if (done) {
                void track.discard(log);
                return;
              }
              done = true;
              for (const loser of attempts.values()) loser.abort(new RelayStoppedError('another relay won the race'));
              resolve(track);
            },
            (err: unknown) => {
              running--;
              attempts.delete(track);
              void track.discard(log);
              errors.push(toError(err));
              log.debug('home-dial-failed', { relay: track.url, error: toError(err) });
              if (done) return;
              if (running === 0 && next >= urls.length) {
                done = true;
                const summary = errors.map((e) => e.message).join('; ');
                reject(new RelayNoHomeError(`no relay server reachable (${summary})`, { cause: errors }));
              } else {
                launch();
              }
            },
          );
        }
      };
      launch();
    });
  }
}
