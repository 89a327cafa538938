import { meshVitest } from '../../vitest.base.js';

export default meshVitest('@mesh/ice-worker', 'lab');
