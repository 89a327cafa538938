// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, Subscriptions } from '@mesh/core';
import type { HandshakeWatcher, PeerEndpoint, UdpPath } from '../src/index.js';

declare const endpoint: PeerEndpoint;
listen(endpoint, 'path-alive', ({ path, rttMs, via }) => [path.kind, rttMs, via === 'probe']);
listen(endpoint, 'path-silent', ({ silentForMs }) => silentForMs.toFixed());
listen(endpoint, 'active-changed', ({ from, to, reason }) => [from?.kind, to?.kind, reason]);
// @ts-expect-error: no such event (it is 'path-silent')
listen(endpoint, 'path-silence', () => {});
// @ts-expect-error: path-silent carries `silentForMs`, not `silentMs`
listen(endpoint, 'path-silent', ({ silentMs }: { silentMs: number }) => silentMs);
// @ts-expect-error: `via` is 'probe' | 'traffic', never 'relay'
listen(endpoint, 'path-alive', ({ via }) => via === 'relay');
listen(endpoint, 'path-probe', ({ path, answered, rttMs, lossPct, srttMs }) => [
  path.kind,
  answered,
  rttMs,
  lossPct,
  srttMs,
]);
listen(endpoint, 'path-carrying', ({ path, afterMs }) => [path.kind, afterMs.toFixed()]);
void onceEvent(endpoint, 'path-probe', { filter: (info) => info.answered && (info.lossPct ?? 0) < 30 });
// @ts-expect-error: path-probe's lossPct may be null (too few probes judged)
listen(endpoint, 'path-probe', ({ lossPct }) => lossPct.toFixed());
// @ts-expect-error: path-carrying carries `afterMs`, not `rttMs`
listen(endpoint, 'path-carrying', ({ rttMs }: { rttMs: number }) => rttMs);
// @ts-expect-error: no such event (it is 'path-carrying')
listen(endpoint, 'path-carries', () => {});

declare const watcher: HandshakeWatcher;
listen(watcher, 'handshake', ({ peer, lastHandshakeAt, first }) => [peer.base64, lastHandshakeAt, first]);
listen(watcher, 'handshake-timeout', ({ reason, error }) => [reason === 'stale', error?.message]);
// @ts-expect-error: no such event (misspelled 'handshake-timeout')
listen(watcher, 'handshake-timout', () => {});
// @ts-expect-error: the timeout's reason is a HandshakeTimeoutReason, not a number
listen(watcher, 'handshake-timeout', ({ reason }: { reason: number }) => reason);
void onceEvent(watcher, 'handshake-timeout', { filter: (info) => info.reason === 'clock-jump' });
// @ts-expect-error: no 'jump' reason
void onceEvent(watcher, 'handshake-timeout', { filter: (info) => info.reason === 'jump' });

declare const udp: UdpPath;
const subs = new Subscriptions();
subs.on(udp, 'data', (d) => d.byteLength).on(udp, 'close', ({ reason, error }) => [reason, error]);
// @ts-expect-error: no such event on a DatagramPath
subs.on(udp, 'message', () => {});
// @ts-expect-error: data carries a Buffer, not a string
subs.on(udp, 'data', (d: string) => d);
