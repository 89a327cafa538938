// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, type PeerKey, type Signaler } from '@mesh/core';
import type { SignalClient } from '../src/client.js';

declare const client: SignalClient;

// The client is a Signaler for PeerConn (a Signaler<unknown> fits PeerConn's Signaler<SignalMessage>).
const s: Signaler = client;
const forPeerConn: Signaler<{ type: 'offer'; version: 1 }> = client;
void forPeerConn;
listen(s, 'message', (from: PeerKey, raw) => [from.base64, raw]);

listen(client, 'message', (from, message) => [from.base64, message]);
listen(client, 'connected', () => {});
listen(client, 'connected', (info) => info?.url.length);
listen(client, 'disconnected', ({ cause }) => cause.length);
listen(client, 'reconnecting', ({ attempt, delayMs }) => attempt + delayMs);
listen(client, 'rejected', ({ reason, from }) => [reason, from?.base64]);
// @ts-expect-error: no such event
listen(client, 'mesage', () => {});
// @ts-expect-error: the sender is a PeerKey, not a string
listen(client, 'message', (from: string) => from);
// @ts-expect-error: 'disconnected' carries `cause`, not `reason`
listen(client, 'disconnected', ({ reason }: { reason: string }) => reason);
// @ts-expect-error: no such event on the client (it is a server event)
listen(client, 'registered', () => {});
listen(client, 'disconnected', ({ cause }) => cause === 'ping-timeout');
// @ts-expect-error: no such cause (a typo of 'ping-timeout')
listen(client, 'disconnected', ({ cause }) => cause === 'ping-timout');

void client.check().then((alive: boolean) => alive);
void client.check({ signal: AbortSignal.timeout(1_000) });
client.reconnectNow('network-changed');
// @ts-expect-error: reconnectNow needs a reason (it is logged)
client.reconnectNow();
// @ts-expect-error: check() resolves a boolean, not a number
void client.check().then((n: number) => n);

client.on('reconnecting', ({ delayMs }) => delayMs.toFixed());
// @ts-expect-error: a direct subscription is checked as well
client.on('reconecting', () => {});

void onceEvent(client, 'reconnecting').then(([r]) => r.cause.length);
void onceEvent(client, 'rejected', { filter: (r) => r.reason === 'replay' });
// @ts-expect-error: the filter gets the 'rejected' info, not a string
void onceEvent(client, 'rejected', { filter: (r: string) => r === '' });
