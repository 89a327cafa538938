// Type-level test, run by `npm run typecheck` (not by vitest): every `@ts-expect-error` line must
// be a compile error, so a misspelled event or a wrong payload in a subscription fails the build.
import { listen, onceEvent, type PeerKey, type Signaler, Subscriptions } from '@mesh/core';
import type { SignalClient } from '../src/client.js';
import type { SignalServer } from '../src/server.js';

declare const client: SignalClient;
declare const server: SignalServer;

// The client is a Signaler for PeerConn.
const s: Signaler = client;
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

client.on('reconnecting', ({ delayMs }) => delayMs.toFixed());
// @ts-expect-error: a direct subscription is checked as well
client.on('reconecting', () => {});

void onceEvent(client, 'reconnecting').then(([r]) => r.cause.length);
void onceEvent(client, 'rejected', { filter: (r) => r.reason === 'replay' });
// @ts-expect-error: the filter gets the 'rejected' info, not a string
void onceEvent(client, 'rejected', { filter: (r: string) => r === '' });

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
