import type { Clock, Logger, TypedEmitter } from '@mesh/core';
import type { AddressFilter } from './address-filter.js';
import type { IceCredentials } from './wire.js';

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

export interface CandidateAddress {
  type: CandidateType;
  address: string;
  port: number;
}

export interface SelectedPair {
  local: CandidateAddress;
  remote: CandidateAddress;
  /** Round-trip time of the last check on the pair, if measured. */
  rttMs: number | undefined;
}

/**
 * `connected` is reached once; `failed`, `disconnected` and `closed` end the agent's usefulness
 * (the worker tears the session down on any of them).
 */
export type IceAgentState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

export interface IceAgentEvents {
  /** A local candidate (SDP candidate attribute body) that passed the address filter. */
  candidate: (candidate: string, info: CandidateAddress & { relatedAddress?: string }) => void;
  state: (state: IceAgentState) => void;
  /** A datagram from the nominated pair's remote address only; nothing before nomination. */
  data: (datagram: Buffer) => void;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface TurnServerConfig extends HostPort {
  username: string;
  password: string;
  /** How we reach the TURN server; the relayed candidate is UDP either way. Default `udp`. */
  transport?: 'udp' | 'tcp';
}

export interface IceAgentConfig {
  controlling: boolean;
  /** Our credentials for this session (the agent must use exactly these). */
  credentials: IceCredentials;
  stun?: HostPort;
  turn?: TurnServerConfig;
  portRange?: [number, number];
  /** Extra host-candidate addresses (e.g. 127.0.0.1 in tests; the library skips loopback). */
  hostAddresses?: string[];
  /** False: host candidates only on `hostAddresses` (no interface discovery). Default true. */
  discoverHostAddresses?: boolean;
  /** Local candidates and pairs on these addresses are never used. */
  excluded: AddressFilter;
  /** Seconds-scale cap on waiting for STUN answers while gathering. */
  stunTimeoutMs?: number;
  clock: Clock;
  logger: Logger;
}

/**
 * One ICE session. The worker only talks to this interface; `WeriftIceAgent` implements it over
 * werift's `Connection`, `FakeIceAgent` (`@mesh/ice-worker/testing`) in memory for unit tests.
 * Events after `close()` must be ignored by the caller, but implementations should not emit them.
 */
export interface IceAgent extends TypedEmitter<IceAgentEvents> {
  readonly credentials: IceCredentials;
  readonly state: IceAgentState;
  /** Starts gathering; candidates arrive as `candidate` events. Resolves when gathering ends. */
  gather(): Promise<void>;
  setRemoteCredentials(credentials: IceCredentials): void;
  /** Adds one remote candidate; malformed or excluded ones are dropped (resolves false). */
  addRemoteCandidate(candidate: string): Promise<boolean>;
  /** Runs checks until a pair is nominated. Needs gather() started and remote credentials. */
  connect(options?: { signal?: AbortSignal }): Promise<SelectedPair>;
  /** Sends over the nominated pair; false when there is none or the agent is closed. Never throws. */
  send(datagram: Uint8Array): boolean;
  /** Idempotent; releases every socket and timer (possibly shortly after it resolves). */
  close(): Promise<void>;
}

export type IceAgentFactory = (config: IceAgentConfig) => IceAgent;
