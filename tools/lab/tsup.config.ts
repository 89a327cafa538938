import { meshTsup } from '../../tsup.base.js';

// udp-agent and cli run as their own processes (inside namespaces / from a shell).
export default meshTsup({ index: 'src/index.ts', cli: 'src/cli.ts', 'udp-agent': 'src/udp-agent.ts' });
