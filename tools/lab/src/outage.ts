import { type Clock, listen, type Subscribable, systemClock, type Timer, TypedEmitter } from '@mesh/core';

/** One outage: a maximal run of consecutive probes without a reply. Times are wall-clock ms. */
export interface Outage {
  /** When the first unanswered probe was sent. */
  startAt: number;
  /** When the first answered probe after the run was sent; null while the outage goes on. */
  endAt: number | null;
  /** endAt - startAt (null while ongoing): the measured outage, with ± one interval of resolution. */
  durationMs: number | null;
  /** Probes lost in this outage. */
  lost: number;
}

export interface OutageReport {
  ns: string;
  target: string;
  intervalMs: number;
  lossTimeoutMs: number;
  startedAt: number;
  stoppedAt: number;
  /** Probes whose fate is known (answered or timed out). */
  sent: number;
  received: number;
  lost: number;
  /** Closed outages, then the ongoing one (endAt null) if the monitor stopped during an outage. */
  outages: Outage[];
}

export type PingLine =
  | { kind: 'reply'; at: number; seq: number; rttMs: number }
  | { kind: 'no-answer'; at: number; seq: number }
  | { kind: 'error'; at: number; seq: number; text: string };

const TS = String.raw`^\[(\d+(?:\.\d+)?)\]\s+`;
const REPLY_RE = new RegExp(`${TS}\\d+ bytes from [^:]+: icmp_seq=(\\d+) .*time=([\\d.]+) ms`);
const NO_ANSWER_RE = new RegExp(`${TS}no answer yet for icmp_seq=(\\d+)`);
const ERROR_RE = new RegExp(`${TS}From \\S+ icmp_seq=(\\d+) (.*)$`);

/** Parses one line of `ping -D -O -n` output (iputils); undefined for anything else. */
export function parsePingLine(line: string): PingLine | undefined {
  let m = REPLY_RE.exec(line);
  if (m) return { kind: 'reply', at: secToMs(m[1]!), seq: Number(m[2]), rttMs: Number(m[3]) };
  m = NO_ANSWER_RE.exec(line);
  if (m) return { kind: 'no-answer', at: secToMs(m[1]!), seq: Number(m[2]) };
  m = ERROR_RE.exec(line);
  if (m) return { kind: 'error', at: secToMs(m[1]!), seq: Number(m[2]), text: m[3]!.trim() };
  return undefined;
}

function secToMs(s: string): number {
  return Math.round(Number(s) * 1000);
}

/** The ping command the monitor runs: timestamps (-D), outstanding-reply reports (-O), numeric. */
export function pingArgv(target: string, intervalMs: number): string[] {
  return ['ping', '-D', '-O', '-n', '-i', (intervalMs / 1000).toFixed(3), target];
}

export interface ProbeResult {
  seq: number;
  sentAt: number;
  received: boolean;
  /** When the reply arrived (ping's timestamp, wall ms); null for a lost probe. */
  receivedAt: number | null;
}

export interface OutageTrackerEvents {
  /** Every probe, once its fate is known (in sequence order). */
  probe: [probe: ProbeResult];
  'outage-start': [outage: Outage];
  'outage-end': [outage: Outage];
}

interface Probe {
  sentAt?: number;
  receivedAt?: number;
}

/**
 * Turns a probe sequence into outages. Probes settle strictly in sequence order: a probe is
 * received (a reply came) or lost (no reply `lossTimeoutMs` after it was sent, judged at `sweep(now)`),
 * so a late reply inside the timeout is not a loss and outages never overlap.
 */
export class OutageTracker extends TypedEmitter<OutageTrackerEvents> {
  readonly intervalMs: number;
  readonly lossTimeoutMs: number;
  readonly #probes = new Map<number, Probe>();
  #next: number | undefined;
  #maxSeq = -1;
  #lastSentAt: number | undefined;
  #current: Outage | undefined;
  readonly #closed: Outage[] = [];
  #received = 0;
  #lost = 0;
  #wrapBase = 0;
  #lastRawSeq = -1;

  constructor(options: { intervalMs: number; lossTimeoutMs: number }) {
    super();
    this.intervalMs = options.intervalMs;
    this.lossTimeoutMs = options.lossTimeoutMs;
  }

  /** ICMP sequence numbers wrap at 65 536; keep them increasing. */
  #unwrap(raw: number): number {
    if (this.#lastRawSeq < 0) {
      this.#lastRawSeq = raw;
    } else if (raw < this.#lastRawSeq - 32_768) {
      this.#wrapBase += 65_536;
      this.#lastRawSeq = raw;
    } else if (raw > this.#lastRawSeq + 32_768) {
      return this.#wrapBase - 65_536 + raw; // a straggler from before the wrap
    } else {
      this.#lastRawSeq = Math.max(this.#lastRawSeq, raw);
    }
    return this.#wrapBase + raw;
  }

  #probe(seq: number): Probe | undefined {
    if (this.#next !== undefined && seq < this.#next) return undefined; // already settled
    this.#next ??= seq;
    this.#maxSeq = Math.max(this.#maxSeq, seq);
    let p = this.#probes.get(seq);
    if (!p) {
      p = {};
      this.#probes.set(seq, p);
    }
    return p;
  }

  /** Feeds one parsed ping line. */
  observe(line: PingLine): void {
    const seq = this.#unwrap(line.seq);
    const p = this.#probe(seq);
    if (!p) return;
    if (line.kind === 'reply') {
      p.receivedAt = line.at;
      p.sentAt ??= Math.round(line.at - line.rttMs);
    } else if (line.kind === 'no-answer') {
      // ping reports an outstanding probe when it sends the next one, one interval later.
      p.sentAt ??= line.at - this.intervalMs;
    } else {
      p.sentAt ??= line.at;
    }
  }

  /** Settles every probe whose fate is known at wall time `now`. */
  sweep(now: number): void {
    while (this.#next !== undefined && this.#next <= this.#maxSeq) {
      const seq = this.#next;
      const p = this.#probes.get(seq) ?? {};
      // Probes ping never mentioned (e.g. sendmsg failed) are placed one interval after the previous.
      const sentAt = p.sentAt ?? (this.#lastSentAt ?? now) + this.intervalMs;
      if (p.receivedAt !== undefined) {
        this.#received++;
        if (this.#current) {
          const o = this.#current;
          o.endAt = sentAt;
          o.durationMs = sentAt - o.startAt;
          this.#current = undefined;
          this.#closed.push(o);
          this.emit('outage-end', { ...o });
        }
      } else if (now - sentAt >= this.lossTimeoutMs) {
        this.#lost++;
        if (this.#current) {
          this.#current.lost++;
        } else {
          this.#current = { startAt: sentAt, endAt: null, durationMs: null, lost: 1 };
          this.emit('outage-start', { ...this.#current });
        }
      } else {
        break; // still within its loss timeout: later probes wait for it
      }
      this.#lastSentAt = sentAt;
      this.#probes.delete(seq);
      this.#next = seq + 1;
      this.emit('probe', { seq, sentAt, received: p.receivedAt !== undefined, receivedAt: p.receivedAt ?? null });
    }
  }

  /** Closed outages plus the ongoing one, if any (copies). */
  outages(): Outage[] {
    const all = this.#closed.map((o) => ({ ...o }));
    if (this.#current) all.push({ ...this.#current });
    return all;
  }

  get ongoing(): Outage | undefined {
    return this.#current ? { ...this.#current } : undefined;
  }

  counts(): { sent: number; received: number; lost: number } {
    return { sent: this.#received + this.#lost, received: this.#received, lost: this.#lost };
  }
}

/** What the monitor reads lines from (a LabProcess running ping): any typed emitter of `line`. */
export interface LineSource extends Subscribable<{ line: [line: string] }> {
  stop(): Promise<unknown>;
}

export interface OutageMonitorOptions {
  /** Probe interval; default 100 ms. */
  intervalMs?: number;
  /** A probe without a reply after this long is lost; default max(1000, 3 × interval). */
  lossTimeoutMs?: number;
  clock?: Clock;
}

export type OutageMonitorEvents = OutageTrackerEvents;

/**
 * Continuous ping through the tunnel: every outage (start, end, duration, probes lost) as events and
 * as a JSON-able report from `stop()`.
 */
export class OutageMonitor extends TypedEmitter<OutageMonitorEvents> {
  readonly ns: string;
  readonly target: string;
  readonly #tracker: OutageTracker;
  readonly #source: LineSource;
  readonly #clock: Clock;
  readonly #sweeper: Timer;
  readonly #startedAt: number;
  readonly #unlisten: () => void;
  #report: Promise<OutageReport> | undefined;

  constructor(ns: string, target: string, source: LineSource, options: OutageMonitorOptions = {}) {
    super();
    this.ns = ns;
    this.target = target;
    const intervalMs = options.intervalMs ?? 100;
    this.#clock = options.clock ?? systemClock;
    this.#tracker = new OutageTracker({
      intervalMs,
      lossTimeoutMs: options.lossTimeoutMs ?? Math.max(1_000, 3 * intervalMs),
    });
    this.#tracker.on('probe', (p) => this.emit('probe', p));
    this.#tracker.on('outage-start', (o) => this.emit('outage-start', o));
    this.#tracker.on('outage-end', (o) => this.emit('outage-end', o));
    this.#source = source;
    this.#startedAt = this.#clock.now();
    this.#unlisten = listen(source, 'line', (line) => {
      const parsed = parsePingLine(line);
      if (!parsed) return;
      this.#tracker.observe(parsed);
      this.#tracker.sweep(this.#clock.now());
    });
    // Losses are only known when their timeout passes, so sweep even when ping prints nothing.
    this.#sweeper = this.#clock.setInterval(() => this.#tracker.sweep(this.#clock.now()), intervalMs);
  }

  outages(): Outage[] {
    return this.#tracker.outages();
  }

  get inOutage(): boolean {
    return this.#tracker.ongoing !== undefined;
  }

  /** Stops probing and returns the report. Idempotent; no events after it. */
  stop(): Promise<OutageReport> {
    this.#report ??= (async () => {
      this.#sweeper.cancel();
      this.removeAllListeners();
      this.#unlisten();
      await this.#source.stop();
      const stoppedAt = this.#clock.now();
      this.#tracker.sweep(stoppedAt);
      return {
        ns: this.ns,
        target: this.target,
        intervalMs: this.#tracker.intervalMs,
        lossTimeoutMs: this.#tracker.lossTimeoutMs,
        startedAt: this.#startedAt,
        stoppedAt,
        ...this.#tracker.counts(),
        outages: this.#tracker.outages(),
      };
    })();
    return this.#report;
  }
}
