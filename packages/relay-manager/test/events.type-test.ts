// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, type PeerKey, Subscriptions } from '@mesh/core';
import type { RelayClient } from '@mesh/relay-client';
import type { RelayClientLike, RelayManager } from '../src/index.js';
import type { FakeRelayClient, FakeRelayConn } from '../src/testing/index.js';

declare const manager: RelayManager;
listen(manager, 'relay-disconnected', ({ serverUrl, peers, home, cause }) => [serverUrl, peers.length, home, cause]);
listen(manager, 'home-changed', ({ previous, current }) => [previous?.length, current.length]);
void onceEvent(manager, 'reconnected').then(([{ instanceUrl }]) => instanceUrl.length);
// @ts-expect-error: no such event
listen(manager, 'home-change', () => {});
// @ts-expect-error: 'relay-disconnected' lists `peers`, not `peer`
listen(manager, 'relay-disconnected', ({ peer }: { peer: PeerKey }) => peer);
// @ts-expect-error: `home` is a boolean
listen(manager, 'relay-disconnected', ({ home }: { home: string }) => home);

declare const fake: FakeRelayClient;
new Subscriptions()
  .on(fake, 'peer-online', ({ peerKey }) => peerKey.base64)
  .on(fake, 'disconnected', ({ cause }) => cause);
// @ts-expect-error: no such event
listen(fake, 'peer-gone', () => {});
// @ts-expect-error: 'disconnected' carries `cause`, not `reason`
listen(fake, 'disconnected', ({ reason }: { reason: string }) => reason);

declare const fakeConn: FakeRelayConn;
listen(fakeConn, 'data', (d) => d.byteLength);
// @ts-expect-error: no such event
listen(fakeConn, 'datum', () => {});
// @ts-expect-error: 'close' carries `reason`, not `cause`
listen(fakeConn, 'close', ({ cause }: { cause: string }) => cause);

// The port keeps the map: the real client and the fake both fit it, and it still checks names.
declare const real: RelayClient;
const ports: RelayClientLike[] = [real, fake];
for (const port of ports) listen(port, 'peer-offline', ({ peerKey }) => peerKey.base64);
// @ts-expect-error: no such event on the port
listen(ports[0]!, 'peer-of', () => {});
// @ts-expect-error: a peer event's `peerKey` is a PeerKey
listen(ports[0]!, 'peer-online', ({ peerKey }: { peerKey: number }) => peerKey);
