import type { Clock, Logger, TypedEmitter } from '@mesh/core';
import type { AddressFilter } from './address-filter.js';
import type { IceCredentials } from './wire.js';

/** ICE candidate types (RFC 8445): host, server reflexive, peer reflexive, relayed. */
export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

/** The type and transport address of one candidate. */
export interface CandidateAddress {
  /** How the candidate was found. */
  type: CandidateType;
  /** IP address. */
  address: string;
  /** UDP port. */
  port: number;
}

/** The candidate pair ICE nominated. */
export interface SelectedPair {
  /** Our side of the pair. */
  local: CandidateAddress;
  /** The remote side of the pair. */
  remote: CandidateAddress;
  /** Round-trip time of the last check on the pair, if measured. */
  rttMs: number | undefined;
}

/**
 * `connected` is reached once; `failed`, `disconnected` and `closed` end the agent's usefulness
 * (the worker tears the session down on any of them). A lapse of STUN consent alone is `failed`
 * only when no probe answer (`consentEvidence()`) came within the consent timeout either.
 */
export type IceAgentState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';

/** Events of an IceAgent. */
export interface IceAgentEvents {
  /** A local candidate (SDP candidate attribute body) that passed the address filter. */
  candidate: (candidate: string, info: CandidateAddress & { relatedAddress?: string }) => void;
  /** The agent's state changed. */
  state: (state: IceAgentState) => void;
  /** A datagram from the nominated pair's remote address only; nothing before nomination. */
  data: (datagram: Buffer) => void;
}

/** A server address. */
export interface HostPort {
  /** Hostname or IP address. */
  host: string;
  /** UDP port. */
  port: number;
}

/** A TURN server and its long-term credentials. */
export interface TurnServerConfig extends HostPort {
  /** TURN username. */
  username: string;
  /** TURN password. */
  password: string;
  /** How we reach the TURN server; the relayed candidate is UDP either way. Default `udp`. */
  transport?: 'udp' | 'tcp';
}

/** What an IceAgentFactory gets to build one session's agent. */
export interface IceAgentConfig {
  /** Whether this side is the ICE controlling agent (it nominates the pair). */
  controlling: boolean;
  /** Our credentials for this session (the agent must use exactly these). */
  credentials: IceCredentials;
  /** The only STUN server contacted; none when absent. */
  stun?: HostPort;
  /** TURN server for relayed candidates; none when absent. */
  turn?: TurnServerConfig;
  /** Local UDP port range `[min, max]` for candidates; any port when absent. */
  portRange?: [number, number];
  /** Extra host-candidate addresses (e.g. 127.0.0.1 in tests; the library skips loopback). */
  hostAddresses?: string[];
  /** False: host candidates only on `hostAddresses` (no interface discovery). Default true. */
  discoverHostAddresses?: boolean;
  /** Local candidates and pairs on these addresses are never used. */
  excluded: AddressFilter;
  /** Seconds-scale cap on waiting for STUN answers while gathering. */
  stunTimeoutMs?: number;
  /** Clock for the agent's timers. */
  clock: Clock;
  /** Logger for the agent. */
  logger: Logger;
}

/**
 * One ICE session. The worker only talks to this interface; `WeriftIceAgent` implements it over
 * werift's `Connection`, `FakeIceAgent` (`@mesh/ice-worker/testing`) in memory for unit tests.
 * Events after `close()` must be ignored by the caller, but implementations should not emit them.
 */
export interface IceAgent extends TypedEmitter<IceAgentEvents> {
  /** Our credentials for this session. */
  readonly credentials: IceCredentials;
  /** Current state; `state` events report changes. */
  readonly state: IceAgentState;
  /** Starts gathering; candidates arrive as `candidate` events. Resolves when gathering ends. */
  gather(): Promise<void>;
  /** Sets the remote side's ufrag and pwd (from its offer or answer); needed before connect(). */
  setRemoteCredentials(credentials: IceCredentials): void;
  /** Adds one remote candidate; malformed or excluded ones are dropped (resolves false). */
  addRemoteCandidate(candidate: string): Promise<boolean>;
  /** Runs checks until a pair is nominated. Needs gather() started and remote credentials. */
  connect(options?: { signal?: AbortSignal }): Promise<SelectedPair>;
  /** Sends over the nominated pair; false when there is none or the agent is closed. Never throws. */
  send(datagram: Uint8Array): boolean;
  /**
   * The remote answered an authenticated probe on the nominated pair: consent evidence (RFC 7675)
   * beside STUN's. While it keeps coming, a lapse of STUN consent does not end the session.
   */
  consentEvidence(): void;
  /** Idempotent; releases every socket and timer (possibly shortly after it resolves). */
  close(): Promise<void>;
}

/** Builds the agent of one ICE session (`weriftAgentFactory` in production, `FakeIceNetwork` in tests). */
export type IceAgentFactory = (config: IceAgentConfig) => IceAgent;
