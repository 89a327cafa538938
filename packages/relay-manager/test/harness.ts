import { type DatagramPath, FakeClock, type PeerKey, silentLogger } from '@mesh/core';
import {
  type RelayClientFactory,
  type RelayClientLike,
  type RelayDisconnectedInfo,
  RelayManager,
  type RelayManagerOptions,
} from '@mesh/relay-manager';
import {
  type FakeRelayClient,
  FakeRelayNetwork,
  type FakeRelayNetworkOptions,
  randomPeerKey,
} from '@mesh/relay-manager/testing';

/** Dial URL and advertised instance URL of the fake servers (different on purpose). */
export const S1 = { url: 'ws://s1.test/relay', instance: 'rel://s1.test:1' };
export const S2 = { url: 'ws://s2.test/relay', instance: 'rel://s2.test:2' };
export const S3 = { url: 'ws://s3.test/relay', instance: 'rel://s3.test:3' };

export interface Harness {
  clock: FakeClock;
  net: FakeRelayNetwork;
  key: PeerKey;
  mgr: RelayManager;
  /** Every client the manager asked for, with the fake-clock time of the request. */
  dials: { url: string; at: number }[];
  events: {
    homeChanged: { previous: string | undefined; current: string }[];
    reconnected: { instanceUrl: string; previous: string | undefined }[];
    disconnected: RelayDisconnectedInfo[];
    all: string[];
  };
  /** A remote peer: its own client, connected to the given server (by dial URL). */
  remote(serverUrl: string, key?: PeerKey): Promise<{ key: PeerKey; open(peer: PeerKey): Promise<DatagramPath> }>;
  /** A remote peer's raw fake client, connected to the given server. */
  remoteClient(serverUrl: string, key: PeerKey): Promise<FakeRelayClient>;
  /** Clients the manager created (not remotes). */
  managerClients(url?: string): ReturnType<FakeRelayNetwork['clientsFor']>;
}

export function harness(
  options: Partial<RelayManagerOptions> & {
    network?: FakeRelayNetworkOptions;
    servers?: (typeof S1)[];
    /** Replaces what the manager gets for each client (to model a misbehaving client). */
    wrapClient?: (client: RelayClientLike) => RelayClientLike;
  } = {},
): Harness {
  const clock = new FakeClock();
  const net = new FakeRelayNetwork({ clock, ...options.network });
  for (const s of options.servers ?? [S1, S2, S3]) net.addServer(s.url, { instanceUrl: s.instance });
  const key = randomPeerKey();
  const dials: Harness['dials'] = [];
  const factory: RelayClientFactory = (url, o) => {
    dials.push({ url, at: clock.monotonic() });
    const client = net.factory(url, o);
    return options.wrapClient ? options.wrapClient(client) : client;
  };
  const { network: _n, servers: _s, wrapClient: _w, ...rest } = options;
  const mgr = new RelayManager({
    urls: [S1.url],
    token: 't1',
    localKey: key,
    clock,
    logger: silentLogger,
    random: () => 0.5, // jitter factor exactly 1: the ladder is deterministic unless a test says otherwise
    ...rest,
    clientFactory: factory,
  });
  const events: Harness['events'] = { homeChanged: [], reconnected: [], disconnected: [], all: [] };
  mgr.on('home-changed', (i) => {
    events.homeChanged.push(i);
    events.all.push('home-changed');
  });
  mgr.on('reconnected', (i) => {
    events.reconnected.push(i);
    events.all.push('reconnected');
  });
  mgr.on('relay-disconnected', (i) => {
    events.disconnected.push(i);
    events.all.push('relay-disconnected');
  });
  return {
    clock,
    net,
    key,
    mgr,
    dials,
    events,
    async remote(serverUrl, remoteKey = randomPeerKey()) {
      const c = await this.remoteClient(serverUrl, remoteKey);
      return { key: remoteKey, open: (peer) => c.openConn(peer) };
    },
    async remoteClient(serverUrl, remoteKey) {
      const c = net.factory(serverUrl, { localKey: remoteKey, token: () => 'r', clock, logger: silentLogger });
      await c.connect();
      return c as FakeRelayClient;
    },
    managerClients(url) {
      return net.clients.filter((c) => c.localKey.equals(key) && (url === undefined || c.url === url));
    },
  };
}

/** Settles `p` into a result object so a test can advance the fake clock before looking at it. */
export function settle<T>(p: Promise<T>): { readonly done: boolean; readonly value?: T; readonly error?: unknown } {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(state, { done: true, value }),
    (error: unknown) => Object.assign(state, { done: true, error }),
  );
  return state;
}
