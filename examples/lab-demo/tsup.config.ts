import { meshTsup } from '../../tsup.base.js';

// demo.js orchestrates the lab; peer-agent.js runs inside each peer namespace.
export default meshTsup({ demo: 'src/demo.ts', 'peer-agent': 'src/peer-agent.ts' }, { dts: false });
