import { RelayClient } from '@mesh/relay-client';
import type { RelayClientFactory } from './client.js';

/** The real client: one WebSocket connection to one relay server (`@mesh/relay-client`). */
export const defaultRelayClientFactory: RelayClientFactory = (url, options) => new RelayClient({ url, ...options });
