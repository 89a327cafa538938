import { FakeClock, TypedEmitter } from '@mesh/core';
import { describe, expect, it } from 'vitest';
import { type Outage, OutageMonitor, OutageTracker, type ProbeResult, parsePingLine, pingArgv } from '../src/outage.js';

const T0 = 1_795_600_000_000;
const ts = (ms: number) => `[${(ms / 1000).toFixed(6)}]`;
const reply = (at: number, seq: number, rtt = 0.5) =>
  `${ts(at)} 64 bytes from 100.64.0.2: icmp_seq=${seq} ttl=64 time=${rtt} ms`;
const noAnswer = (at: number, seq: number) => `${ts(at)} no answer yet for icmp_seq=${seq}`;

describe('parsePingLine', () => {
  it('parses replies, outstanding reports and ICMP errors from `ping -D -O -n`', () => {
    expect(parsePingLine('[1795619918.443099] 64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.133 ms')).toEqual({
      kind: 'reply',
      at: 1795619918443,
      seq: 1,
      rttMs: 0.133,
    });
    expect(parsePingLine('[1795619887.111000] no answer yet for icmp_seq=12')).toEqual({
      kind: 'no-answer',
      at: 1795619887111,
      seq: 12,
    });
    expect(parsePingLine('[1795619887.5] From 10.0.1.1 icmp_seq=7 Destination Net Unreachable')).toEqual({
      kind: 'error',
      at: 1795619887500,
      seq: 7,
      text: 'Destination Net Unreachable',
    });
    for (const other of [
      'PING 10.0.0.1 (10.0.0.1) 56(84) bytes of data.',
      '',
      '--- stats ---',
      'ping: sendmsg: Network is unreachable',
    ]) {
      expect(parsePingLine(other)).toBeUndefined();
    }
  });

  it('builds the ping command', () => {
    expect(pingArgv('100.64.0.2', 100)).toEqual(['ping', '-D', '-O', '-n', '-i', '0.100', '100.64.0.2']);
  });
});

/** Feeds a synthetic sequence: `pattern[i]` is '.' (answered) or 'x' (lost) for seq i+1, 100 ms apart. */
function feed(tracker: OutageTracker, pattern: string, start = T0): number {
  let t = start;
  for (let i = 0; i < pattern.length; i++) {
    const seq = i + 1;
    if (pattern[i] === '.') tracker.observe(parsePingLine(reply(t + 1, seq, 1))!);
    else tracker.observe(parsePingLine(noAnswer(t + 100, seq))!);
    t += 100;
    tracker.sweep(t);
  }
  return t;
}

describe('OutageTracker', () => {
  it('finds each run of lost probes with start, end, duration and count', () => {
    const tr = new OutageTracker({ intervalMs: 100, lossTimeoutMs: 1_000 });
    const end = feed(tr, '.....xxxxx.....xx..');
    tr.sweep(end + 5_000);
    expect(tr.outages()).toEqual([
      { startAt: T0 + 500, endAt: T0 + 1_000, durationMs: 500, lost: 5 },
      { startAt: T0 + 1_500, endAt: T0 + 1_700, durationMs: 200, lost: 2 },
    ]);
    expect(tr.counts()).toEqual({ sent: 19, received: 12, lost: 7 });
  });

  it('a late reply inside the loss timeout is not a loss', () => {
    const tr = new OutageTracker({ intervalMs: 100, lossTimeoutMs: 1_000 });
    tr.observe(parsePingLine(reply(T0 + 1, 1, 1))!);
    tr.observe(parsePingLine(noAnswer(T0 + 200, 2))!); // seq 2 sent at T0+100
    tr.observe(parsePingLine(reply(T0 + 600, 2, 500))!); // ...answered 500 ms later
    tr.observe(parsePingLine(reply(T0 + 201, 3, 1))!);
    const probes: ProbeResult[] = [];
    tr.on('probe', (p) => probes.push(p));
    tr.sweep(T0 + 2_000);
    expect(probes[1]).toEqual({ seq: 2, sentAt: T0 + 100, received: true, receivedAt: T0 + 600 });
    expect(tr.outages()).toEqual([]);
    expect(tr.counts()).toEqual({ sent: 3, received: 3, lost: 0 });
  });

  it('an outage at the end stays open (endAt null) and probes ping never mentioned count as lost', () => {
    const tr = new OutageTracker({ intervalMs: 100, lossTimeoutMs: 1_000 });
    tr.observe(parsePingLine(reply(T0 + 1, 1, 1))!);
    tr.observe(parsePingLine(noAnswer(T0 + 500, 5))!); // seqs 2-4 failed to send: no lines at all
    tr.sweep(T0 + 3_000);
    expect(tr.outages()).toEqual([{ startAt: T0 + 100, endAt: null, durationMs: null, lost: 4 }]);
  });

  it('follows the ICMP sequence across its wrap at 65 536', () => {
    const tr = new OutageTracker({ intervalMs: 100, lossTimeoutMs: 1_000 });
    tr.observe(parsePingLine(reply(T0, 65_535, 1))!);
    tr.observe(parsePingLine(noAnswer(T0 + 200, 0))!);
    tr.observe(parsePingLine(reply(T0 + 200, 1, 1))!);
    tr.sweep(T0 + 5_000);
    expect(tr.outages()).toEqual([{ startAt: T0 + 100, endAt: T0 + 199, durationMs: 99, lost: 1 }]);
  });
});

class FakePing extends TypedEmitter<{ line: [string] }> {
  stopped = 0;
  async stop(): Promise<void> {
    this.stopped++;
  }
}

describe('OutageMonitor', () => {
  it('reports outage-start after the loss timeout even when ping is silent, outage-end on recovery', async () => {
    const clock = new FakeClock(T0);
    const src = new FakePing();
    const mon = new OutageMonitor('ns', '100.64.0.2', src, { intervalMs: 100, lossTimeoutMs: 1_000, clock });
    const events: [string, Outage][] = [];
    mon.on('outage-start', (o) => events.push(['start', o]));
    mon.on('outage-end', (o) => events.push(['end', o]));
    for (let seq = 1; seq <= 3; seq++) {
      src.emit('line', reply(clock.now() + 1, seq, 1));
      await clock.advance(100);
    }
    // seq 4 is sent at T0+300 and never answered; ping says nothing more (e.g. its next sendmsg blocks)
    src.emit('line', noAnswer(T0 + 400, 4));
    await clock.advance(900);
    expect(events).toEqual([]); // T0+1200: seq 4 is 900 ms old, within the timeout
    await clock.advance(100);
    expect(events).toEqual([['start', { startAt: T0 + 300, endAt: null, durationMs: null, lost: 1 }]]);
    expect(mon.inOutage).toBe(true);
    src.emit('line', reply(T0 + 1_401, 5, 1));
    await clock.advance(100);
    expect(events[1]).toEqual(['end', { startAt: T0 + 300, endAt: T0 + 1_400, durationMs: 1_100, lost: 1 }]);
    const report = await mon.stop();
    expect(report).toMatchObject({ ns: 'ns', target: '100.64.0.2', sent: 5, received: 4, lost: 1 });
    expect(report.outages).toHaveLength(1);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
    expect(src.stopped).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop is idempotent and nothing is emitted after it', async () => {
    const clock = new FakeClock(T0);
    const src = new FakePing();
    const mon = new OutageMonitor('ns', 'x', src, { intervalMs: 100, lossTimeoutMs: 500, clock });
    let events = 0;
    mon.on('outage-start', () => events++);
    src.emit('line', noAnswer(T0 + 100, 1));
    const [a, b] = await Promise.all([mon.stop(), mon.stop()]);
    expect(a).toBe(b);
    src.emit('line', noAnswer(T0 + 200, 2));
    await clock.advance(5_000);
    expect(events).toBe(0);
    expect(src.stopped).toBe(1);
  });
});
