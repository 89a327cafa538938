import { createConnection } from 'node:net';
import { MeshError } from '@mesh/core';
import type { AgentStatus, PeerStatus } from '@mesh/reference-agent';

// `mesh-agent status --json` as the agent defines it (examples/reference-agent README, "status").
export type { AgentStatus, PeerStatus };
export type PathName = PeerStatus['path'];
export type PeerCounters = PeerStatus['counters'];

export const COUNTER_NAMES = [
  'offersSent',
  'offersReceived',
  'relayReopens',
  'relayTeardowns',
  'iceSessions',
  'recoveries',
] as const satisfies readonly (keyof PeerCounters)[];

export class ChaosError extends MeshError {
  constructor(code: 'ERR_CHAOS_STATUS' | 'ERR_CHAOS_TIMEOUT' | 'ERR_CHAOS_RELAY', message: string, cause?: unknown) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.name = 'ChaosError';
  }
}

/**
 * Asks a running agent for its status over its control socket: one JSON line `{"op":"status"}`
 * → `{"ok":true,"status":{…}}` (the agent's documented control protocol). The socket file lives in
 * the shared mount namespace, so no process has to be spawned inside the peer's network namespace.
 */
export function requestAgentStatus(socket: string, timeoutMs = 5_000): Promise<AgentStatus> {
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    let buf = '';
    const fail = (message: string, cause?: unknown) => {
      conn.destroy();
      reject(new ChaosError('ERR_CHAOS_STATUS', `${socket}: ${message}`, cause));
    };
    conn.setTimeout(timeoutMs, () => fail(`no status reply within ${timeoutMs} ms`));
    conn.on('error', (err) => fail('unreachable', err));
    conn.on('connect', () => conn.write('{"op":"status"}\n'));
    conn.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      conn.end();
      try {
        const reply = JSON.parse(buf.slice(0, nl)) as { ok: boolean; status?: AgentStatus; error?: unknown };
        if (reply.ok && reply.status) resolve(reply.status);
        else fail(`error reply ${JSON.stringify(reply.error)}`);
      } catch (err) {
        fail('malformed reply', err);
      }
    });
  });
}
