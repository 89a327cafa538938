import { meshTsup } from '../../tsup.base.js';

export default meshTsup({ index: 'src/index.ts' });
