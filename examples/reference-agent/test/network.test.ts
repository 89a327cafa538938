import { PeerKey, TypedEmitter } from '@mesh/core';
import type { LocalAddress, NetworkChange, NetworkMonitor, NetworkMonitorEvents } from '@mesh/net-monitor';
import type { HostNetworkChange, PeerConn } from '@mesh/peer-conn';
import type { RelayManager } from '@mesh/relay-manager';
import { describe, expect, it } from 'vitest';
import type { AgentSignaler } from '../src/minimal.js';
import { reactToNetwork } from '../src/network.js';
import { keyPair } from './fixtures.js';

const addr = (address: string, dev = 'eth0'): LocalAddress => ({ address, family: 'ipv4', prefixLength: 24, dev });

function change(over: Partial<NetworkChange>): NetworkChange {
  return {
    addressesAdded: [],
    addressesRemoved: [],
    defaultRouteChanged: false,
    online: true,
    wentOffline: false,
    cameOnline: false,
    snapshot: { addresses: [], defaultRoutes: [], online: true },
    ...over,
  };
}

function world(signalConnected = true) {
  const calls: string[] = [];
  const monitor = new TypedEmitter<NetworkMonitorEvents>() as unknown as NetworkMonitor;
  const signaler = {
    connected: signalConnected,
    localAddress: signalConnected ? '10.0.1.2' : undefined,
    check: async () => {
      calls.push('signal.check');
      return true;
    },
    reconnect: (r: string) => calls.push(`signal.reconnect:${r}`),
    reconnectNow: (r: string) => calls.push(`signal.reconnectNow:${r}`),
    send: async () => {},
    on: () => signaler,
    off: () => signaler,
    start: () => {},
    stop: async () => {},
  } as unknown as AgentSignaler;
  const relays = {
    homeInstanceUrl: 'rel://192.0.2.10:33080',
    foreignServers: () => ['rel://192.0.2.11:33081'],
    verify: async (url: string) => {
      calls.push(`relay.verify:${url}`);
      return true;
    },
    retryHome: (url: string) => {
      calls.push(`relay.retryHome:${url}`);
      return false;
    },
  } as unknown as RelayManager;
  const seen: HostNetworkChange[] = [];
  const peer = {
    remoteKey: PeerKey.parse(keyPair().publicKey),
    networkChanged: async (c: HostNetworkChange) => {
      seen.push(c);
    },
  } as unknown as PeerConn;
  const log = { info: () => {}, debug: () => {}, warn: () => {}, error: () => {}, trace: () => {}, child: () => log };
  const off = reactToNetwork(monitor, {
    signaler,
    relays,
    relayUrls: ['rel://192.0.2.10:33080'],
    peers: [peer],
    log: log as never,
  });
  const emit = (c: NetworkChange) => (monitor as unknown as TypedEmitter<NetworkMonitorEvents>).emit('change', c);
  return { calls, seen, emit, off };
}

describe('reactToNetwork', () => {
  it("a roam (signaling's local address gone, route moved): signaling redialled at once, relays verified, peers told", () => {
    const w = world();
    w.emit(
      change({
        addressesRemoved: [addr('10.0.1.2')],
        addressesAdded: [addr('10.0.3.2', 'eth1')],
        defaultRouteChanged: true,
      }),
    );
    expect(w.calls).toEqual([
      'signal.reconnect:local-address-gone',
      'relay.verify:rel://192.0.2.10:33080',
      'relay.verify:rel://192.0.2.11:33081',
      'relay.retryHome:rel://192.0.2.10:33080',
    ]);
    expect(w.seen).toEqual([{ online: true, addressesAdded: 1, addressesRemoved: 1, defaultRouteChanged: true }]);
  });

  it("signaling's address only moved to another prefix: not gone, nothing redialled, peers see no removal", () => {
    const w = world();
    const moved = { ...addr('10.0.1.2'), prefixLength: 16 };
    w.emit(
      change({
        addressesRemoved: [addr('10.0.1.2')],
        addressesAdded: [moved],
        snapshot: { addresses: [moved], defaultRoutes: [], online: true },
      }),
    );
    expect(w.calls).toEqual([]);
    expect(w.seen).toEqual([{ online: true, addressesAdded: 1, addressesRemoved: 0, defaultRouteChanged: false }]);
  });

  it("a route change that keeps signaling's address: signaling is pinged, not dropped", () => {
    const w = world();
    w.emit(change({ defaultRouteChanged: true }));
    expect(w.calls[0]).toBe('signal.check');
  });

  it('back online with signaling down: its waiting retry runs now', () => {
    const w = world(false);
    w.emit(change({ cameOnline: true, defaultRouteChanged: true }));
    expect(w.calls[0]).toBe('signal.reconnectNow:network-change');
  });

  it('no default route but usable addresses (a LAN-only mesh, policy routing): online, nothing parks', () => {
    const w = world();
    w.emit(
      change({
        online: false,
        addressesAdded: [addr('10.0.9.2', 'eth1')],
        snapshot: { addresses: [addr('10.0.1.2'), addr('10.0.9.2', 'eth1')], defaultRoutes: [], online: false },
      }),
    );
    expect(w.seen).toEqual([{ online: true, addressesAdded: 1, addressesRemoved: 0, defaultRouteChanged: false }]);
  });

  it('offline: only the peers hear it (they park); an address added elsewhere: no connection is disturbed', () => {
    const w = world();
    w.emit(change({ online: false, wentOffline: true, defaultRouteChanged: true }));
    w.emit(change({ addressesAdded: [addr('172.17.0.1', 'docker0')] }));
    expect(w.calls).toEqual([]);
    expect(w.seen.map((c) => c.online)).toEqual([false, true]);
    w.off();
    w.emit(change({ defaultRouteChanged: true }));
    expect(w.calls).toEqual([]);
  });
});
