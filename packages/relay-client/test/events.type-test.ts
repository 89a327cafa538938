// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, type PeerKey, Subscriptions } from '@mesh/core';
import type { RelayClient, RelayConn } from '../src/index.js';

declare const client: RelayClient;
listen(client, 'disconnected', ({ cause, error }) => [cause, error?.message]);
listen(client, 'peer-online', ({ peerKey, peerId }) => [peerKey.base64, peerId.key]);
// @ts-expect-error: no such event
listen(client, 'peer-onlin', () => {});
// @ts-expect-error: 'disconnected' carries `cause`, not `reason`
listen(client, 'disconnected', ({ reason }: { reason: string }) => reason);
// @ts-expect-error: a peer event's `peerKey` is a PeerKey, not a string
listen(client, 'peer-offline', ({ peerKey }: { peerKey: string }) => peerKey);
// @ts-expect-error: not a RelayDisconnectCause
void onceEvent(client, 'disconnected', { filter: ({ cause }) => cause === 'socket-closd' });

declare const conn: RelayConn;
new Subscriptions().on(conn, 'data', (d) => d.byteLength).on(conn, 'close', ({ reason }) => reason.length);
// @ts-expect-error: no such event
listen(conn, 'message', () => {});
// @ts-expect-error: 'close' carries `reason`, not `cause`
listen(conn, 'close', ({ cause }: { cause: string }) => cause);
// @ts-expect-error: 'data' carries a Buffer, not a PeerKey
listen(conn, 'data', (d: PeerKey) => d);
