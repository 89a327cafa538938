// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions, TypedEmitter } from '@mesh/core';
import type { LineSource, OutageMonitor, OutageTracker } from '../src/outage.js';
import type { LabProcess } from '../src/process.js';

declare const tracker: OutageTracker;
declare const monitor: OutageMonitor;

listen(tracker, 'probe', ({ seq, sentAt, received, receivedAt }) => [seq + sentAt, received, receivedAt ?? 0]);
// @ts-expect-error: receivedAt is null for a lost probe
listen(tracker, 'probe', ({ receivedAt }) => receivedAt + 1);
listen(tracker, 'outage-start', ({ startAt, lost }) => startAt + lost);
listen(tracker, 'outage-end', ({ durationMs }) => durationMs?.toFixed());
// @ts-expect-error: no such event
listen(tracker, 'outage', () => {});
// @ts-expect-error: a probe is a ProbeResult, not a number
listen(tracker, 'probe', (seq: number) => seq);
// @ts-expect-error: an outage has no `reason`
listen(tracker, 'outage-end', ({ reason }: { reason: string }) => reason);

new Subscriptions()
  .on(monitor, 'probe', (p) => p.received)
  .on(monitor, 'outage-start', (o) => o.endAt)
  .on(monitor, 'outage-end', (o) => o.lost);
void onceEvent(monitor, 'probe', { filter: (p) => p.received }).then(([p]) => p.seq);
void onceEvent(monitor, 'outage-end').then(([o]) => o.durationMs);
// @ts-expect-error: no such event
void onceEvent(monitor, 'outage-stop');
// @ts-expect-error: the filter gets a ProbeResult, not a string
void onceEvent(monitor, 'probe', { filter: (p: string) => p === '' });
// @ts-expect-error: no such event
monitor.on('probes', () => {});

// A LabProcess, or any typed emitter of `line` with a stop(), feeds a monitor; other emitters do not.
declare const proc: LabProcess;
const fromProcess: LineSource = proc;
class Lines extends TypedEmitter<{ line: [line: string] }> {
  async stop(): Promise<void> {}
}
const fromLines: LineSource = new Lines();
class Numbers extends TypedEmitter<{ line: [n: number] }> {
  async stop(): Promise<void> {}
}
// @ts-expect-error: its lines are numbers
const fromNumbers: LineSource = new Numbers();
void [fromProcess, fromLines, fromNumbers];
