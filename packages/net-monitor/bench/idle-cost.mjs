// CPU cost of each monitor while the network is quiet: `node bench/idle-cost.mjs [seconds] [which]`
// (60 s; which: a comma list of baseline,polling,linux, all by default) after a build. Measures this Node process (process.cpuUsage) and, for the Linux
// monitor, its `ip monitor` child (/proc/<pid>/stat utime + stime), from after start() to the end,
// plus a baseline of the same process with no monitor. Run it where nothing changes the network,
// e.g. `ip netns exec <quiet namespace> node bench/idle-cost.mjs`.
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LinuxNetworkMonitor, PollingNetworkMonitor } from '../dist/index.js';

const seconds = Number(process.argv[2] ?? 60);
const which = (process.argv[3] ?? 'baseline,polling,linux').split(',');
const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of this process's `ip` children, in ms. */
function childCpuMs() {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' '); // fields[0] is field 3 (state)
    if (comm !== 'ip' || Number(fields[1]) !== process.pid) continue;
    ticks += Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
  }
  return (ticks * 1000) / TICKS_PER_S;
}

async function measure(name, make) {
  const monitor = make();
  let changes = 0;
  monitor?.on('change', () => changes++);
  await monitor?.start();
  const cpu0 = process.cpuUsage();
  const child0 = childCpuMs();
  await sleep(seconds * 1000);
  const cpu = process.cpuUsage(cpu0);
  const child = childCpuMs() - child0;
  await monitor?.stop();
  const nodeMs = (cpu.user + cpu.system) / 1000;
  console.log(JSON.stringify({ monitor: name, seconds, nodeCpuMs: Math.round(nodeMs), ipChildCpuMs: child, changes }));
}

if (which.includes('baseline')) await measure('none (baseline)', () => undefined);
if (which.includes('polling')) await measure('PollingNetworkMonitor (2 s)', () => new PollingNetworkMonitor());
if (which.includes('linux')) await measure('LinuxNetworkMonitor', () => new LinuxNetworkMonitor());
