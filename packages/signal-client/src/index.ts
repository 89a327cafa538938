export { SignalClient } from './client.js';
export { NotConnectedError, SignalError, SignalErrorCodes } from './errors.js';
export type * from './options.js';
export * from './protocol/index.js';
export { type FreshnessVerdict, ReplayCache } from './replay-cache.js';
