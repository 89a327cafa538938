import { type Clock, InvalidArgumentError, type Logger, type PeerKey } from '@mesh/core';
import type { HostPort, IceAgentFactory, TurnServerConfig } from './agent.js';
import { CANDIDATE_BUFFER_MAX, CANDIDATE_BUFFER_TTL_MS, CONNECT_TIMEOUT_MS } from './constants.js';

/** Options of an IceWorker. */
export interface IceWorkerOptions {
  /** Our WireGuard public key. */
  localKey: PeerKey;
  /** The remote peer's WireGuard public key; the key order decides which side controls. */
  remoteKey: PeerKey;
  /** The only STUN server contacted; none when absent (werift's Google default is never used). */
  stun?: HostPort;
  /** TURN server for relayed candidates; none when absent. */
  turn?: TurnServerConfig;
  /** Local UDP port range `[min, max]` for candidates; any port when absent. */
  portRange?: [number, number];
  /** IPs/CIDRs that never become candidates or pairs: the WireGuard interface and the overlay range. */
  excludedAddresses?: string[];
  /** Extra host-candidate addresses (werift skips loopback and veth/tun/tap NICs). */
  hostAddresses?: string[];
  /** False: only `hostAddresses` become host candidates. Default true. */
  discoverHostAddresses?: boolean;
  /** Cap on waiting for STUN answers while gathering. Default STUN_TIMEOUT_MS (5 s). */
  stunTimeoutMs?: number;
  /** Deadline from building an agent to a nominated pair. Default CONNECT_TIMEOUT_MS (15 s). */
  connectTimeoutMs?: number;
  /** Remote candidates held until their session's agent exists. Default 32 candidates, 15 s each (CANDIDATE_BUFFER_*). */
  candidateBuffer?: { max?: number; ttlMs?: number };
  /** Builds each session's agent. Default `weriftAgentFactory`. */
  agentFactory?: IceAgentFactory;
  /** Clock for every timer; `systemClock` by default. */
  clock?: Clock;
  /** Logger; silent by default. */
  logger?: Logger;
}

/** The timings IceWorker runs with, after validation and defaults. */
export interface IceWorkerTimings {
  connectTimeoutMs: number;
  bufferMax: number;
  bufferTtlMs: number;
}

/** Validates `options` (throws InvalidArgumentError) and fills in the defaults. */
export function resolveOptions(options: IceWorkerOptions): IceWorkerTimings {
  const { localKey, remoteKey } = options;
  if (!localKey || !remoteKey || localKey.equals(remoteKey)) {
    throw new InvalidArgumentError('localKey and remoteKey must be two different PeerKeys');
  }
  validateServer('stun', options.stun);
  validateServer('turn', options.turn);
  if (options.turn && (!options.turn.username || !options.turn.password)) {
    throw new InvalidArgumentError('turn needs username and password');
  }
  if (options.turn?.transport && !['udp', 'tcp'].includes(options.turn.transport)) {
    throw new InvalidArgumentError('turn.transport must be udp or tcp');
  }
  const range = options.portRange;
  if (range && !(range[0] >= 1 && range[0] <= range[1] && range[1] <= 65535)) {
    throw new InvalidArgumentError('portRange must be [min, max] within 1..65535');
  }
  return {
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, CONNECT_TIMEOUT_MS),
    bufferMax: positive('candidateBuffer.max', options.candidateBuffer?.max, CANDIDATE_BUFFER_MAX),
    bufferTtlMs: positive('candidateBuffer.ttlMs', options.candidateBuffer?.ttlMs, CANDIDATE_BUFFER_TTL_MS),
  };
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return value;
}

function validateServer(name: string, server: HostPort | undefined): void {
  if (server === undefined) return;
  if (typeof server.host !== 'string' || server.host.length === 0)
    throw new InvalidArgumentError(`${name}.host missing`);
  if (!Number.isInteger(server.port) || server.port < 1 || server.port > 65535) {
    throw new InvalidArgumentError(`${name}.port must be 1..65535`);
  }
}
