// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error. It covers PeerConn's public events and the internal wiring's sources.
import { listen, type Signaler, Subscriptions } from '@mesh/core';
import type { IceWorker } from '@mesh/ice-worker';
import type { HandshakeWatcher, PeerEndpoint } from '@mesh/wg-control';
import type { PeerConn, RelayPort, SignalMessage } from '../src/index.js';

declare const conn: PeerConn;
listen(conn, 'path-changed', ({ from, to, reason }) => [from, to, reason]);
listen(conn, 'recovered', ({ outageMs, path }) => outageMs + path.length);
listen(conn, 'stale-marked', ({ reason, server }) => [reason, server]);
// @ts-expect-error: no such event
listen(conn, 'path-change', () => {});
// @ts-expect-error: `recovered` carries outageMs, not durationMs
listen(conn, 'recovered', ({ durationMs }: { durationMs: number }) => durationMs);

// The sources PeerConn's wiring subscribes to (src/parts/wiring.ts uses the same helper).
declare const watcher: HandshakeWatcher;
declare const endpoint: PeerEndpoint;
declare const relay: RelayPort;
declare const ice: IceWorker;
declare const signaler: Signaler<SignalMessage>;
const subs = new Subscriptions();
subs.on(watcher, 'handshake-timeout', ({ reason }) => reason);
// @ts-expect-error: misspelled watcher event
subs.on(watcher, 'handshake-timout', () => {});
// @ts-expect-error: the timeout's reason is a string union, not a number
subs.on(watcher, 'handshake-timeout', ({ reason }: { reason: number }) => reason);
subs.on(endpoint, 'path-silent', ({ path }) => path.kind);
// @ts-expect-error: misspelled endpoint event
subs.on(endpoint, 'path-silence', () => {});
subs.on(relay, 'relay-disconnected', ({ serverUrl, peers }) => [serverUrl, peers]);
// @ts-expect-error: relay-disconnected names the server as serverUrl
subs.on(relay, 'relay-disconnected', ({ server }: { server: string }) => server);
// @ts-expect-error: misspelled manager event
subs.on(relay, 'home-change', () => {});
subs.on(ice, 'connected', ({ path, pair }) => [path.kind, pair.kind]);
// @ts-expect-error: misspelled ICE worker event
subs.on(ice, 'session-rotate', () => {});
subs.on(signaler, 'message', (from, raw) => [from.base64, raw]);
// @ts-expect-error: misspelled signaler event
subs.on(signaler, 'mesage', () => {});
