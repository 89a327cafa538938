// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions } from '@mesh/core';
import type { SignalServer } from '../src/server.js';

declare const server: SignalServer;

listen(server, 'registered', ({ peer, replaced }) => [peer.base64, replaced]);
listen(server, 'forward', ({ from, to, frame }) => [from.base64, to.base64, frame.length]);
new Subscriptions()
  .on(server, 'unregistered', ({ cause }) => cause)
  .on(server, 'dropped', ({ reason }) => reason)
  .on(server, 'rejected', ({ cause, detail }) => cause + detail);
// @ts-expect-error: no such event
listen(server, 'registred', () => {});
// @ts-expect-error: 'rejected' on the server carries `cause`, not `reason`
listen(server, 'rejected', ({ reason }: { reason: string }) => reason);
// @ts-expect-error: 'forward' carries an object, not a string
listen(server, 'forward', (frame: string) => frame);
// @ts-expect-error: no such event on the server (it is a client event)
void onceEvent(server, 'message');
