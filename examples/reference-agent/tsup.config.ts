import { meshTsup } from '../../tsup.base.js';

// cli.js is the `mesh-agent` bin; index.js exports the agent for embedding and tests.
export default meshTsup({ index: 'src/index.ts', cli: 'src/cli.ts' });
