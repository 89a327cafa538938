import { InvalidArgumentError } from '@mesh/core';
import { RELAY_WS_PATH } from './protocol/constants.js';

/**
 * The WebSocket URL for a relay address: `rel://h:p` → `ws://h:p/relay`, `rels://h:p` → `wss://h:p/relay`;
 * `ws://` and `wss://` URLs get the path `/relay` too (NetBird always dials that path).
 */
export function relayWebSocketUrl(address: string): string {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new InvalidArgumentError(`invalid relay URL ${JSON.stringify(address)}`);
  }
  const scheme = { 'rel:': 'ws:', 'rels:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[url.protocol];
  if (!scheme || url.hostname === '') {
    throw new InvalidArgumentError(`relay URL must be rel://, rels://, ws:// or wss:// with a host: ${address}`);
  }
  return `${scheme}//${url.host}${RELAY_WS_PATH}`;
}
