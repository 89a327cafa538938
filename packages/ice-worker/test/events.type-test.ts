// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions } from '@mesh/core';
import type { IceAgent, IcePath, IceWorker, WeriftIceAgent } from '../src/index.js';
import type { FakeIceAgent } from '../src/testing/index.js';

declare const worker: IceWorker;
listen(worker, 'local-candidate', ({ sessionId, candidate }) => sessionId + candidate);
listen(worker, 'connected', ({ path, pair }) => [path.kind, pair.kind === 'ice-turn', pair.rttMs]);
listen(worker, 'disconnected', ({ reason, wasConnected }) => [reason === 'timeout', wasConnected]);
listen(worker, 'session-rotated', (info) => [info.old, info.new, info.cause]);
// @ts-expect-error: no such event (it is 'session-rotated')
listen(worker, 'session-rotate', () => {});
// @ts-expect-error: disconnected's reason is an IceEndReason, never 'gone'
listen(worker, 'disconnected', ({ reason }) => reason === 'gone');
// @ts-expect-error: connected carries `path`, not `datagramPath`
listen(worker, 'connected', ({ datagramPath }: { datagramPath: IcePath }) => datagramPath);
void onceEvent(worker, 'connected').then(([info]) => info.remoteSessionId.length);
// @ts-expect-error: no such event
void onceEvent(worker, 'conected');

declare const path: IcePath;
listen(path, 'data', (d) => d.byteLength);
listen(path, 'close', ({ reason }) => reason.length);
// @ts-expect-error: no such event on a DatagramPath
listen(path, 'message', () => {});
// @ts-expect-error: data carries a Buffer, not a string
listen(path, 'data', (d: string) => d);

declare const agent: IceAgent;
listen(agent, 'candidate', (sdp, info) => [sdp.length, info.type, info.relatedAddress]);
// @ts-expect-error: no such event (it is 'candidate')
listen(agent, 'candidates', () => {});
// @ts-expect-error: the candidate type is a CandidateType, never 'stun'
listen(agent, 'candidate', (_sdp, info) => info.type === 'stun');

declare const werift: WeriftIceAgent;
listen(werift, 'state', (state) => state === 'failed');
// @ts-expect-error: no such event (it is 'state')
listen(werift, 'state-changed', () => {});
// @ts-expect-error: 'state' carries an IceAgentState, not a number
listen(werift, 'state', (state: number) => state);

declare const fake: FakeIceAgent;
const subs = new Subscriptions();
subs.on(fake, 'data', (d) => d.byteLength).on(fake, 'state', (state) => state === 'closed');
// @ts-expect-error: no such event
subs.on(fake, 'datagram', () => {});
// @ts-expect-error: data carries one Buffer, not a Buffer and an address
subs.on(fake, 'data', (_d: Buffer, _from: string) => {});
