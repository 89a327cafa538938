import { it } from 'vitest';
import { MeshLab } from './mesh-lab.js';
it('debug', async () => {
  const ml = await MeshLab.create({ udpBlocked: true });
  try {
    console.log((await ml.lab.exec('natA', ['iptables', '-S', 'FORWARD'])).stdout);
    console.log((await ml.lab.exec('natA', ['iptables', '-t', 'nat', '-S'])).stdout);
    await ml.until((s) => s.active !== 'none' && s.active !== 'relay', 30_000).catch((e) => console.log(String(e).slice(0, 300)));
    console.log((await ml.lab.exec('natA', ['iptables', '-L', 'FORWARD', '-v', '-n'])).stdout);
    console.log((await ml.lab.exec('natA', ['conntrack', '-L'])).stdout);
    console.log((await ml.lab.exec('peerA', ['ss', '-unap'])).stdout);
  } finally { await ml.destroy(); }
}, 120_000);
