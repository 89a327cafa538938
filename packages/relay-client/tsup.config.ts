import { meshTsupWithTesting } from '../../tsup.base.js';

export default meshTsupWithTesting();
