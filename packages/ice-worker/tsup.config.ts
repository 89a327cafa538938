import { meshTsup } from '../../tsup.base.js';

export default meshTsup({ index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' }, { external: ['vitest'] });
