import { Lab } from '@mesh/lab';
import { generateKeyPair, UapiDevice, WgCliDevice, type WgDevice } from '../../src/index.js';
import { describeWgDeviceContract, type WgDeviceContractEnv } from '../../src/testing/contract.js';

/**
 * The contract against real wireguard-go in the lab: the device under test in peerA, the remote
 * in peerB reached through a port forward on natB (WireGuard on B learns A's endpoint by roaming).
 */
function env(make: (iface: string) => WgDevice): () => Promise<WgDeviceContractEnv> {
  return async () => {
    const lab = await Lab.create({ natA: 'cone', natB: 'cone' });
    try {
      const remoteKeys = generateKeyPair();
      const a = await lab.startWireguardGo('peerA', { address: '100.64.0.1/24' });
      const b = await lab.startWireguardGo('peerB', {
        address: '100.64.0.2/24',
        listenPort: 51820,
        privateKey: remoteKeys.privateKey,
      });
      await lab.portForward('natB', { wanPort: 51820 });
      const remote = new UapiDevice(b.ifname);
      return {
        device: make(a.ifname),
        missingDevice: make(`${a.ifname}x`),
        remote: {
          publicKey: remoteKeys.publicKey,
          endpoint: `${lab.addr.natBWan}:51820`,
          tunnelIp: '100.64.0.2',
          addPeer: (cfg) => remote.upsertPeer(cfg),
        },
        localTunnelIp: '100.64.0.1',
        ping: async () =>
          (await lab.exec('peerA', ['ping', '-c', '3', '-i', '0.2', '-W', '1', '-q', '100.64.0.2'])).code === 0,
        occupyUdpPort: async () => {
          const agent = await lab.startUdpAgent('peerA');
          return { port: agent.port, release: async () => void (await agent.stop()) };
        },
        teardown: () => lab.destroy(),
      };
    } catch (err) {
      await lab.destroy();
      throw err;
    }
  };
}

describeWgDeviceContract(
  'UapiDevice (wireguard-go in the lab)',
  env((iface) => new UapiDevice(iface)),
);
describeWgDeviceContract(
  'WgCliDevice (wireguard-go in the lab)',
  env((iface) => new WgCliDevice(iface)),
);
