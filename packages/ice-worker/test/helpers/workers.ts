import { type Clock, type Logger, PeerKey, silentLogger } from '@mesh/core';
import { IceWorker, type IceWorkerEvents, type IceWorkerOptions } from '@mesh/ice-worker';

/** Two keys; `high` sorts above `low`, so a worker whose local key is `high` controls. */
const k1 = PeerKey.fromBytes(Buffer.alloc(32, 0xee));
const k2 = PeerKey.fromBytes(Buffer.alloc(32, 0x11));
export const keys = k1.isControllerFor(k2) ? { high: k1, low: k2 } : { high: k2, low: k1 };

/** Everything a worker emitted, in order (for assertions). */
export type Recorded = {
  [E in keyof IceWorkerEvents]: { event: E; args: Parameters<IceWorkerEvents[E]> };
}[keyof IceWorkerEvents];

export function record(worker: IceWorker): Recorded[] {
  const log: Recorded[] = [];
  for (const event of ['local-candidate', 'connected', 'disconnected', 'session-rotated'] as const) {
    worker.on(event, (...args: unknown[]) => log.push({ event, args } as Recorded));
  }
  return log;
}

export function workerPair(
  common: Partial<IceWorkerOptions> & { clock?: Clock; logger?: Logger },
  a: Partial<IceWorkerOptions> = {},
  b: Partial<IceWorkerOptions> = {},
): [IceWorker, IceWorker] {
  const wa = new IceWorker({ localKey: keys.high, remoteKey: keys.low, logger: silentLogger, ...common, ...a });
  const wb = new IceWorker({ localKey: keys.low, remoteKey: keys.high, logger: silentLogger, ...common, ...b });
  return [wa, wb];
}

/** Through JSON, like a real signaling channel. */
const wire = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));

/** Forwards trickled candidates both ways (as JSON). */
export function trickle(a: IceWorker, b: IceWorker): void {
  a.on('local-candidate', (m) => void b.addRemoteCandidate(wire(m)).catch(() => {}));
  b.on('local-candidate', (m) => void a.addRemoteCandidate(wire(m)).catch(() => {}));
}

/** One offer round: `from` offers, `to` answers, `from` takes the answer. */
export async function offerRound(from: IceWorker, to: IceWorker): Promise<void> {
  const answer = await to.onRemoteOffer(wire(from.localOffer()));
  await from.onRemoteAnswer(wire(answer));
}
