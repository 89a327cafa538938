// Runs one monitor (argv[2]: 'linux' | 'polling') from the built package and prints one JSON line
// per event on stdout. The lab starts it with `ip netns exec NS node …`: a process cannot enter
// another network namespace from Node, so the monitor lives in a child that already is there.
// It stops when stdin closes (the test ended or died) or on SIGTERM.
import { LinuxNetworkMonitor, PollingNetworkMonitor } from '../../dist/index.js';

const kind = process.argv[2];
const monitor = kind === 'linux' ? new LinuxNetworkMonitor() : new PollingNetworkMonitor({ intervalMs: 500 });
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
monitor.on('change', (change) => print({ type: 'change', change }));
monitor.on('error', (err) => print({ type: 'error', code: err.code, message: err.message }));

const stop = () => void monitor.stop().then(() => process.exit(0));
process.stdin.on('end', stop);
process.stdin.resume();
process.once('SIGTERM', stop);

await monitor.start();
print({ type: 'ready', snapshot: monitor.snapshot() });
