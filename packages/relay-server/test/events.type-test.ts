// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions } from '@mesh/core';
import type { RelayServer } from '../src/index.js';

declare const server: RelayServer;
listen(server, 'peer-connected', ({ peerId, replaced }) => [peerId.key, replaced]);
new Subscriptions().on(server, 'connection-rejected', ({ cause, reason }) => [cause, reason.length]);
void onceEvent(server, 'peer-disconnected', { filter: ({ cause }) => cause === 'replaced' });
// @ts-expect-error: no such event
listen(server, 'peer-conected', () => {});
// @ts-expect-error: 'peer-connected' carries `replaced`, not `cause`
listen(server, 'peer-connected', ({ cause }: { cause: string }) => cause);
// @ts-expect-error: `replaced` is a boolean
listen(server, 'peer-connected', ({ replaced }: { replaced: string }) => replaced);
// @ts-expect-error: not a DisconnectCause
void onceEvent(server, 'peer-disconnected', { filter: ({ cause }) => cause === 'replace' });
