import type { Clock, Logger, Timer } from '@mesh/core';
import {
  ANSWER_WAIT_MS,
  CROSSED_INITIATION_WAIT_MS,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_SENDER_INDEX_OFFSET,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import type { PeerEndpointStats } from './peer-endpoint.js';
import { isWireGuardMessage } from './probe.js';

export interface HandshakeGateOptions {
  clock: Clock;
  log: Logger;
  /** Shared with the endpoint: the gate counts held, crossed and forgotten handshake messages. */
  stats: PeerEndpointStats;
  /** Sends a datagram from WireGuard to the active path (or holds it: see holdWhileNoPath). */
  toPath: (msg: Buffer) => void;
  /** Hands a datagram from a path to WireGuard. */
  toWireguard: (d: Buffer) => void;
}

// Sizes and types identify handshake messages; sender/receiver indexes are little-endian u32s.
const isInitiation = (m: Buffer) => m[0] === MESSAGE_INITIATION_TYPE && m.length === MESSAGE_INITIATION_SIZE;
const isResponse = (m: Buffer) => m[0] === MESSAGE_RESPONSE_TYPE && m.length === MESSAGE_RESPONSE_SIZE;
const senderOf = (m: Buffer) => m.readUInt32LE(MESSAGE_SENDER_INDEX_OFFSET);
const receiverOf = (m: Buffer) => m.readUInt32LE(MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET);

/**
 * Where PeerEndpoint times WireGuard's handshake messages so that one handshake completes at once
 * instead of after WireGuard's 5 s retry: it keeps the latest handshake message while no path is
 * active, holds back a remote initiation that crossed WireGuard's own, and drops an initiation
 * WireGuard made just before answering a remote one. Owns two timers; stop() cancels both.
 */
export class HandshakeGate {
  readonly #o: HandshakeGateOptions;
  #heldHandshake: { msg: Buffer; atMono: number } | undefined;
  /** WireGuard's latest initiation (sent or held) that is neither answered nor abandoned by it. */
  #ownInitiation: { sender: number; atMono: number } | undefined;
  /** Hands a held crossed remote initiation to WireGuard unless ours is answered first. */
  #crossedTimer: Timer | undefined;
  /** A remote initiation handed to WireGuard, not answered yet. */
  #answering: { sender: number; timer: Timer } | undefined;
  /** WireGuard's own initiation made while #answering: held until WireGuard answers (then dropped). */
  #doomedInitiation: Buffer | undefined;

  constructor(options: HandshakeGateOptions) {
    this.#o = options;
  }

  stop(): void {
    this.#crossedTimer?.cancel();
    this.#crossedTimer = undefined;
    this.#answering?.timer.cancel();
    this.#answering = undefined;
  }

  /** A datagram from WireGuard: goes to the path unless it is an initiation WireGuard is about to forget. */
  fromWireguard(msg: Buffer): void {
    if (isInitiation(msg)) {
      this.#ownInitiation = { sender: senderOf(msg), atMono: this.#o.clock.monotonic() };
      if (this.#answering) {
        // Made before WireGuard got to the remote initiation it is answering: answering forgets it.
        this.#doomedInitiation = msg;
        return;
      }
    } else if (isResponse(msg)) {
      this.#ownInitiation = undefined; // WireGuard answered a remote initiation, and so forgot its own
      if (this.#answering && receiverOf(msg) === this.#answering.sender) this.#answered(true);
    }
    this.#o.toPath(msg);
  }

  /** A WireGuard message from a path, on its way to WireGuard. */
  fromRemote(d: Buffer): void {
    if (isInitiation(d)) {
      this.#dropCrossed(); // a newer remote initiation supersedes it
      if (!this.#holdCrossed(d)) this.#toWireguardInitiation(d);
      return;
    }
    if (isResponse(d) && this.#ownInitiation && receiverOf(d) === this.#ownInitiation.sender) {
      this.#ownInitiation = undefined;
      this.#dropCrossed();
    }
    this.#o.toWireguard(d);
  }

  /**
   * No path is active for a datagram from WireGuard. WireGuard retries an unanswered initiation
   * only every 5 s (REKEY_TIMEOUT) and never resends a response: keep the latest of either so the
   * next active path carries it at once. A response replaces an initiation WireGuard has forgotten
   * (sent late, it would only make the remote forget the handshake this response completes).
   */
  holdWhileNoPath(msg: Buffer): void {
    if ((msg[0] === MESSAGE_INITIATION_TYPE || msg[0] === MESSAGE_RESPONSE_TYPE) && isWireGuardMessage(msg)) {
      this.#heldHandshake = { msg, atMono: this.#o.clock.monotonic() };
    }
  }

  /**
   * The held handshake message, if it is still worth sending, and forgets it: only WireGuard's
   * newest handshake message is valid (it forgets a handshake when it starts or answers another),
   * and only until WireGuard (or the remote) sends its retry.
   */
  takeHeld(): Buffer | undefined {
    const held = this.#heldHandshake;
    this.#heldHandshake = undefined;
    if (held && this.#o.clock.monotonic() - held.atMono < REKEY_TIMEOUT_MS) return held.msg;
    return undefined;
  }

  /** Hands WireGuard a remote initiation and watches for its answer (see fromWireguard). */
  #toWireguardInitiation(d: Buffer): void {
    this.#answering?.timer.cancel();
    this.#answering = {
      sender: senderOf(d),
      timer: this.#o.clock.setTimeout(() => this.#answered(false), ANSWER_WAIT_MS),
    };
    this.#o.toWireguard(d);
  }

  /**
   * WireGuard answered the remote initiation (`true`): an initiation of its own made meanwhile is
   * forgotten, dropped. Or it did not answer in time (rejected it: replay, flood): send that one.
   */
  #answered(answered: boolean): void {
    this.#answering?.timer.cancel();
    this.#answering = undefined;
    const doomed = this.#doomedInitiation;
    this.#doomedInitiation = undefined;
    if (!doomed) return;
    if (!answered) {
      this.#o.toPath(doomed);
      return;
    }
    this.#o.stats.drops.forgottenInitiation++;
    this.#o.log.debug('forgotten-initiation-dropped');
  }

  /**
   * Both WireGuards initiated at once (e.g. both configured at the same instant, each initiation
   * held until a path came up). WireGuard keeps one handshake per peer: answering the remote's
   * initiation discards its own, so each side drops the other's answer and the tunnel waits for
   * the 5 s retry. Both endpoints see the same two sender indexes and agree: the initiation with
   * the lower one is answered, the other is held back here and dropped once ours is answered
   * (or handed to WireGuard after CROSSED_INITIATION_WAIT_MS, in case ours was lost).
   */
  #holdCrossed(d: Buffer): boolean {
    const own = this.#ownInitiation;
    if (!own || this.#o.clock.monotonic() - own.atMono >= REKEY_TIMEOUT_MS) return false;
    if (senderOf(d) <= own.sender) return false;
    this.#o.stats.crossedInitiationsHeld++;
    this.#o.log.debug('crossed-initiation-held');
    this.#crossedTimer = this.#o.clock.setTimeout(() => {
      this.#crossedTimer = undefined;
      this.#o.log.debug('crossed-initiation-released');
      this.#toWireguardInitiation(d);
    }, CROSSED_INITIATION_WAIT_MS);
    return true;
  }

  #dropCrossed(): void {
    if (!this.#crossedTimer) return;
    this.#crossedTimer.cancel();
    this.#crossedTimer = undefined;
    this.#o.stats.drops.crossedInitiation++;
    this.#o.log.debug('crossed-initiation-dropped');
  }
}
