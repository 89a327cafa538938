import { meshTsup } from '../../tsup.base.js';

// demo.js and bench.js run as programs (the demo as root via `tools/mesh demo`); index.js is the rig.
export default meshTsup({ index: 'src/index.ts', demo: 'src/demo.ts', bench: 'bench/bench.ts' });
