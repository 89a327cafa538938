import { agentVitest } from './vitest.shared.js';

export default agentVitest('unit');
