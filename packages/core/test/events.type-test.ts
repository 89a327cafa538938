// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.

import type { DatagramPath, PeerKey } from '../src/index.js';
import { listen, onceEvent, type Signaler, type Subscribable, Subscriptions, TypedEmitter } from '../src/index.js';

interface Events {
  tick: (n: number) => void;
  pair: (name: string, count: number) => void;
}
const e = new TypedEmitter<Events>();

listen(e, 'tick', (n) => n.toFixed());
listen(e, 'pair', (name, count) => name.length + count);
// @ts-expect-error: no such event
listen(e, 'tik', () => {});
// @ts-expect-error: wrong payload type
listen(e, 'tick', (n: string) => n);

const subs = new Subscriptions();
subs.on(e, 'tick', (n) => n.toFixed());
// @ts-expect-error: no such event
subs.on(e, 'pairs', () => {});
// @ts-expect-error: too many listener arguments for 'tick'
subs.on(e, 'tick', (_n: number, _extra: string) => {});

void onceEvent(e, 'pair', { filter: (name, count) => name.length > count }).then(([name]) => name.toUpperCase());
// @ts-expect-error: no such event
void onceEvent(e, 'tock');
// @ts-expect-error: the filter's argument is a number
void onceEvent(e, 'tick', { filter: (n: string) => n === '' });

// Part of an emitter (a port) keeps the map through the type-only `~events` member.
const port: Pick<TypedEmitter<Events>, 'on' | 'off' | '~events'> = e;
listen(port, 'tick', (n) => n);
// @ts-expect-error: no such event on the port either
listen(port, 'tok', () => {});

declare const path: DatagramPath;
listen(path, 'data', (d) => d.byteLength);
listen(path, 'close', ({ reason }) => reason.length);
// @ts-expect-error: DatagramPath's close carries `reason`, not `cause`
listen(path, 'close', ({ cause }: { cause: string }) => cause);

declare const signaler: Signaler;
listen(signaler, 'message', (from: PeerKey, raw) => [from.base64, raw]);
listen(signaler, 'connected', () => {});
// @ts-expect-error: no such event on a Signaler
listen(signaler, 'conected', () => {});

// Any TypedEmitter with the right events is a Signaler.
class MySignaler extends TypedEmitter<{ message: (from: PeerKey, m: unknown) => void; connected: () => void }> {
  async send(_to: PeerKey, _m: unknown): Promise<void> {}
}
const ok: Signaler = new MySignaler();
// …and one with more events than a Signaler's is one too.
class BigSignaler extends TypedEmitter<{
  message: (from: PeerKey, m: unknown) => void;
  connected: (info?: { url: string }) => void;
  closed: (code: number) => void;
}> {
  async send(_to: PeerKey, _m: unknown): Promise<void> {}
}
const big: Signaler = new BigSignaler();
listen(big, 'message', () => {});
// @ts-expect-error: an emitter without the Signaler's events is not one
const bad: Subscribable<{ message: (from: PeerKey, m: unknown) => void }> = new TypedEmitter<{ other: () => void }>();
void [ok, bad, big];
