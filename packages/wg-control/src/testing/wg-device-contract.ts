import { hasCode, type PeerKey } from '@mesh/core';
import { afterEach, describe, expect, it } from 'vitest';
import { generateKeyPair, type WgDevice, type WgPeerConfig } from '../device.js';

export interface WgDeviceContractEnv {
  /** A running device under test: no private key, no peers; `remote` is reachable from it. */
  device: WgDevice;
  /** The same backend aimed at an interface that does not exist. */
  missingDevice: WgDevice;
  /** A second real WireGuard device the contract builds a tunnel to. */
  remote: {
    publicKey: PeerKey;
    /** Where `device` reaches the remote's WireGuard (ip:port). */
    endpoint: string;
    /** The remote's address inside the tunnel. */
    tunnelIp: string;
    /** Configures a peer on the remote device (it may learn the peer's endpoint by roaming). */
    addPeer(config: WgPeerConfig): Promise<void>;
  };
  /** `device`'s own address inside the tunnel. */
  localTunnelIp: string;
  /** Pings remote.tunnelIp from the device's side a few times; true when any reply came back. */
  ping(): Promise<boolean>;
  /** Occupies a UDP port on the device's host/namespace until `release()`. */
  occupyUdpPort(): Promise<{ port: number; release(): Promise<void> }>;
  /** Releases everything the env opened (devices, ports); called after each test. */
  teardown(): Promise<void>;
}

const sorted = (a: string[]) => [...a].sort();

/**
 * The behaviour every WgDevice backend has against a real WireGuard implementation. Each test
 * gets a fresh environment from `setup`.
 */
export function describeWgDeviceContract(name: string, setup: () => Promise<WgDeviceContractEnv>): void {
  describe(`WgDevice contract: ${name}`, () => {
    let env: WgDeviceContractEnv | undefined;
    const open = async () => {
      env = await setup();
      return env;
    };
    afterEach(async () => {
      await env?.teardown();
      env = undefined;
    });

    it('sets the private key and listen port and reads them back', async () => {
      const { device } = await open();
      const before = await device.getInterface();
      expect(before.publicKey).toBeNull();
      expect(before.peers).toEqual([]);
      const keys = generateKeyPair();
      await device.setPrivateKey(keys.privateKey);
      await device.setListenPort(0); // "any free port"
      const port = 20000 + Math.floor(Math.random() * 20000);
      await device.setListenPort(port);
      const after = await device.getInterface();
      expect(after.publicKey?.equals(keys.publicKey)).toBe(true);
      expect(after.listenPort).toBe(port);
    });

    it('configures two peers, reads back every field, updates and removes them', async () => {
      const { device } = await open();
      await device.setPrivateKey(generateKeyPair().privateKey);
      const p1 = generateKeyPair();
      const p2 = generateKeyPair();
      const psk = generateKeyPair().privateKey;
      await device.upsertPeer({
        publicKey: p1.publicKey,
        endpoint: '127.0.0.1:9',
        allowedIps: ['10.77.0.1/32', '10.78.0.0/16'],
        persistentKeepalive: 0,
        presharedKey: psk,
      });
      await device.upsertPeer({ publicKey: p2.publicKey.base64, allowedIps: ['10.77.0.2/32'] });

      const one = await device.getPeer(p1.publicKey);
      expect(one).not.toBeNull();
      expect(one!.publicKey.equals(p1.publicKey)).toBe(true);
      expect(one!.endpoint).toBe('127.0.0.1:9');
      expect(sorted(one!.allowedIps)).toEqual(['10.77.0.1/32', '10.78.0.0/16']);
      expect(one!.persistentKeepalive).toBe(0);
      expect(one!.presharedKey).toBe(true);
      expect(one!.lastHandshakeAt).toBe(0);
      expect(one!.rxBytes).toBe(0);
      expect(one!.txBytes).toBe(0);
      const two = await device.getPeer(p2.publicKey);
      expect(two).toMatchObject({
        endpoint: null,
        allowedIps: ['10.77.0.2/32'],
        presharedKey: false,
        persistentKeepalive: 0,
      });
      expect((await device.getInterface()).peers).toHaveLength(2);

      // Update: only the fields given change.
      await device.upsertPeer({
        publicKey: p1.publicKey,
        endpoint: '127.0.0.1:10',
        persistentKeepalive: 25,
        presharedKey: null,
      });
      await device.upsertPeer({ publicKey: p1.publicKey, allowedIps: ['10.79.0.0/24'], replaceAllowedIps: false });
      const updated = await device.getPeer(p1.publicKey);
      expect(updated).toMatchObject({ endpoint: '127.0.0.1:10', persistentKeepalive: 25, presharedKey: false });
      expect(sorted(updated!.allowedIps)).toEqual(['10.77.0.1/32', '10.78.0.0/16', '10.79.0.0/24']);
      await device.upsertPeer({ publicKey: p1.publicKey, allowedIps: ['10.80.0.1/32'] });
      expect((await device.getPeer(p1.publicKey))!.allowedIps).toEqual(['10.80.0.1/32']);

      await device.removePeer(p1.publicKey);
      expect(await device.getPeer(p1.publicKey)).toBeNull();
      expect((await device.getInterface()).peers.map((p) => p.publicKey.base64)).toEqual([p2.publicKey.base64]);
      await device.removePeer(p1.publicKey); // absent: not an error
      await device.removePeer(p2.publicKey);
      expect((await device.getInterface()).peers).toEqual([]);
    });

    it('sees the handshake time and byte counters move after a ping through the tunnel', async () => {
      const e = await open();
      const { device, remote } = e;
      const keys = generateKeyPair();
      await device.setPrivateKey(keys.privateKey);
      await remote.addPeer({ publicKey: keys.publicKey, allowedIps: [`${e.localTunnelIp}/32`] });
      await device.upsertPeer({
        publicKey: remote.publicKey,
        endpoint: remote.endpoint,
        allowedIps: [`${remote.tunnelIp}/32`],
      });
      const before = await device.getPeer(remote.publicKey);
      expect(before).toMatchObject({ lastHandshakeAt: 0, rxBytes: 0, txBytes: 0 });
      const t0 = Date.now();
      expect(await e.ping()).toBe(true);
      const after = await device.getPeer(remote.publicKey);
      expect(after!.lastHandshakeAt).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
      expect(after!.lastHandshakeAt).toBeLessThanOrEqual(Date.now() + 1000);
      expect(after!.rxBytes).toBeGreaterThan(0);
      expect(after!.txBytes).toBeGreaterThan(0);
      expect(await e.ping()).toBe(true);
      const later = await device.getPeer(remote.publicKey);
      expect(later!.rxBytes).toBeGreaterThan(after!.rxBytes);
      expect(later!.txBytes).toBeGreaterThan(after!.txBytes);
    });

    it('rejects malformed input with a typed error before touching the device', async () => {
      const { device } = await open();
      const good = generateKeyPair().publicKey;
      const cases: Array<[() => Promise<unknown>, string]> = [
        [() => device.setPrivateKey('not a key'), 'ERR_INVALID_KEY'],
        [() => device.upsertPeer({ publicKey: 'AAAA' }), 'ERR_INVALID_KEY'],
        [() => device.getPeer('zz'), 'ERR_INVALID_KEY'],
        [() => device.removePeer('x'.repeat(44)), 'ERR_INVALID_KEY'],
        [() => device.upsertPeer({ publicKey: good, endpoint: 'example.com:1' }), 'ERR_INVALID_ARGUMENT'],
        [() => device.upsertPeer({ publicKey: good, endpoint: '10.0.0.1:70000' }), 'ERR_INVALID_ARGUMENT'],
        [() => device.upsertPeer({ publicKey: good, allowedIps: ['10.0.0.1/33'] }), 'ERR_INVALID_ARGUMENT'],
        [
          () => device.upsertPeer({ publicKey: good, allowedIps: ['10.0.0.1/32\nremove=true'] }),
          'ERR_INVALID_ARGUMENT',
        ],
        [() => device.upsertPeer({ publicKey: good, persistentKeepalive: -1 }), 'ERR_INVALID_ARGUMENT'],
        [() => device.upsertPeer({ publicKey: good, presharedKey: 'short' }), 'ERR_INVALID_KEY'],
        [() => device.setListenPort(65536), 'ERR_INVALID_ARGUMENT'],
      ];
      for (const [op, code] of cases) {
        const err = await op().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(hasCode(err, code), `${String(op)} → ${String(err)}`).toBe(true);
      }
      const state = await device.getInterface();
      expect(state.peers).toEqual([]);
    });

    it('reports a missing device as ERR_WG_DEVICE_NOT_RUNNING', async () => {
      const { missingDevice } = await open();
      await expect(missingDevice.getInterface()).rejects.toMatchObject({ code: 'ERR_WG_DEVICE_NOT_RUNNING' });
      await expect(missingDevice.setListenPort(1234)).rejects.toMatchObject({ code: 'ERR_WG_DEVICE_NOT_RUNNING' });
    });

    it('turns a negative errno from the device into ERR_WG_ERRNO naming the operation and value', async () => {
      const { device, occupyUdpPort } = await open();
      const busy = await occupyUdpPort();
      try {
        const err = await device.setListenPort(busy.port).then(
          () => undefined,
          (e: unknown) => e as { code?: string; errno?: number; operation?: string; message?: string },
        );
        expect(err).toMatchObject({ code: 'ERR_WG_ERRNO', errno: -98, operation: 'setListenPort' });
        expect(err!.message).toContain(String(busy.port));
      } finally {
        await busy.release();
      }
    });

    it('honours an aborted signal', async () => {
      const { device } = await open();
      const ac = new AbortController();
      ac.abort();
      await expect(device.getInterface({ signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
      await expect(device.setListenPort(1, { signal: ac.signal })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    });
  });
}
