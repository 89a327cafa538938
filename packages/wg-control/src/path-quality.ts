import {
  MAX_PROBE_RTT_MS,
  PROBE_LOSS_TIMEOUT_MS,
  QUALITY_MIN_SAMPLES,
  QUALITY_WINDOW,
  RTT_SMOOTHING,
} from './constants.js';

/** The outcome of one judged probe: answered in time (with its round-trip time) or lost. */
export interface ProbeOutcome {
  answered: boolean;
  rttMs: number | null;
}

/** A judged probe in the window; `late`: lost, and its pong came afterwards (its RTT counted once). */
interface Judged {
  sentAt: number;
  answered: boolean;
  late: boolean;
}

/**
 * Loss and RTT of one path, from its probes. A ping is pending, by the monotonic send time its
 * pong echoes, until the pong arrives (answered) or PROBE_LOSS_TIMEOUT_MS has passed (lost: the
 * owner calls expire(), so no timer of its own). Loss is over the last QUALITY_WINDOW judged
 * probes. A new path gets a new PathQuality: re-attaching a path starts a fresh window.
 */
export class PathQuality {
  /** Send times of the pings not judged yet, oldest first. */
  readonly #pending: number[] = [];
  /** The last QUALITY_WINDOW judged probes, oldest first. */
  readonly #window: Judged[] = [];
  #rttMs: number | null = null;
  #srttMs: number | null = null;

  /** Latest round-trip time, null until a pong came back. */
  get rttMs(): number | null {
    return this.#rttMs;
  }

  /** Smoothed round-trip time (EWMA, TCP's SRTT), null until a pong came back. */
  get srttMs(): number | null {
    return this.#srttMs;
  }

  /** Percentage of the window's probes that were lost; null while too few are judged. */
  get lossPct(): number | null {
    return lossPercent(this.#window.filter((j) => !j.answered).length, this.#window.length);
  }

  /** Judged probes in the window (at most QUALITY_WINDOW). */
  get probesInWindow(): number {
    return this.#window.length;
  }

  /** A ping went out, stamped `sentAt`. */
  sent(sentAt: number): void {
    this.#pending.push(sentAt);
  }

  /**
   * A pong for the ping stamped `sentAt` arrived at `now`: the probe's outcome when this judged it.
   * A pong later than PROBE_LOSS_TIMEOUT_MS judges its probe lost (whether or not expire() got to it
   * first) but still counts as an RTT sample; a duplicate or unknown pong counts for nothing.
   */
  pong(sentAt: number, now: number): ProbeOutcome | undefined {
    const rtt = now - sentAt;
    if (!(rtt >= 0 && rtt < MAX_PROBE_RTT_MS)) return undefined;
    const i = this.#pending.indexOf(sentAt);
    if (i < 0) {
      const lost = this.#window.find((j) => j.sentAt === sentAt && !j.answered && !j.late);
      if (lost) {
        lost.late = true;
        this.#sample(rtt);
      }
      return undefined;
    }
    this.#pending.splice(i, 1);
    this.#sample(rtt);
    const answered = rtt <= PROBE_LOSS_TIMEOUT_MS;
    this.#judged({ sentAt, answered, late: !answered });
    return { answered, rttMs: answered ? rtt : null };
  }

  /**
   * Judges the oldest ping unanswered for longer than PROBE_LOSS_TIMEOUT_MS lost: true when there
   * was one (call again for the next). With `judge` false such pings are forgotten instead: a
   * remote that never answered a probe (no PeerEndpoint there) says nothing about the path's loss.
   */
  expireOne(now: number, judge: boolean): boolean {
    while (this.#pending.length > 0 && now - this.#pending[0]! > PROBE_LOSS_TIMEOUT_MS) {
      const sentAt = this.#pending.shift()!;
      if (!judge) continue;
      this.#judged({ sentAt, answered: false, late: false });
      return true;
    }
    return false;
  }

  #judged(j: Judged): void {
    this.#window.push(j);
    if (this.#window.length > QUALITY_WINDOW) this.#window.shift();
  }

  #sample(rtt: number): void {
    this.#rttMs = rtt;
    this.#srttMs = smoothRtt(this.#srttMs, rtt);
  }
}

/** Loss in percent of `lost` out of `judged` probes; null below `minSamples` judged (too few to tell). */
export function lossPercent(lost: number, judged: number, minSamples = QUALITY_MIN_SAMPLES): number | null {
  if (judged < Math.max(1, minSamples)) return null;
  return (lost / judged) * 100;
}

/** The smoothed RTT after one more sample: the first sample as is, then an EWMA with weight `alpha`. */
export function smoothRtt(srttMs: number | null, sampleMs: number, alpha = RTT_SMOOTHING): number {
  return srttMs === null ? sampleMs : srttMs + alpha * (sampleMs - srttMs);
}
