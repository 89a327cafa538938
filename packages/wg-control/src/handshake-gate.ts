import type { Clock, DatagramPath, Logger, Timer } from '@mesh/core';
import {
  ANSWER_WAIT_MS,
  CROSSED_INITIATION_WAIT_MS,
  HANDSHAKE_RESEND_WINDOW_MS,
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_SENDER_INDEX_OFFSET,
  MESSAGE_TRANSPORT_HEADER_SIZE,
  MESSAGE_TRANSPORT_RECEIVER_INDEX_OFFSET,
  MESSAGE_TRANSPORT_TYPE,
  REKEY_TIMEOUT_MS,
} from './constants.js';
import type { PeerEndpointStats } from './peer-endpoint.js';
import { isWireGuardMessage } from './probe.js';

export interface HandshakeGateOptions {
  clock: Clock;
  log: Logger;
  /** Shared with the endpoint: the gate counts held, resent, crossed and forgotten handshake messages. */
  stats: PeerEndpointStats;
  /**
   * Sends a datagram from WireGuard on the active path: that path, or null when it went nowhere
   * (no active path, or the path refused it; the endpoint counts the drop).
   */
  toPath: (msg: Buffer) => DatagramPath | null;
  /** Sends a datagram from WireGuard on this (newly active) path; false when the path refused it (counted). */
  sendOn: (path: DatagramPath, msg: Buffer) => boolean;
  /** True when the path is silent: what goes out on it is probably lost. */
  isSilent: (path: DatagramPath) => boolean;
  /** Hands a datagram from a path to WireGuard. */
  toWireguard: (d: Buffer) => void;
}

// Sizes and types identify handshake messages; sender/receiver indexes are little-endian u32s.
const isInitiation = (m: Buffer) => m[0] === MESSAGE_INITIATION_TYPE && m.length === MESSAGE_INITIATION_SIZE;
const isResponse = (m: Buffer) => m[0] === MESSAGE_RESPONSE_TYPE && m.length === MESSAGE_RESPONSE_SIZE;
const isHandshake = (m: Buffer) =>
  (m[0] === MESSAGE_INITIATION_TYPE || m[0] === MESSAGE_RESPONSE_TYPE) && isWireGuardMessage(m);
const senderOf = (m: Buffer) => m.readUInt32LE(MESSAGE_SENDER_INDEX_OFFSET);
const receiverOf = (m: Buffer) => m.readUInt32LE(MESSAGE_RESPONSE_RECEIVER_INDEX_OFFSET);

/** WireGuard's latest handshake message, kept while it may still have to reach the remote (see activeChanged). */
interface Latest {
  readonly msg: Buffer;
  /** A well-formed response (else an initiation, or a handshake message of the wrong size: tests). */
  readonly response: boolean;
  /** Its sender index (-1 when not well formed): an initiation is answered by a response naming it. */
  readonly index: number;
  /** A response: the sender index of the remote initiation it answers. */
  readonly answers: number;
  /** When WireGuard made it: REKEY_TIMEOUT_MS later it has made a newer one (or given up). */
  readonly madeMono: number;
  /** The path it last went out on; null: none yet (no active path, or the path refused it). */
  sentOn: DatagramPath | null;
  sentMono: number;
  /** It probably did not arrive: the path was silent, or stopped being active right after. */
  doubtful: boolean;
}

/**
 * Where PeerEndpoint times WireGuard's handshake messages so that one handshake completes at once
 * instead of after WireGuard's 5 s retry (REKEY_TIMEOUT; it never resends a response): it sends
 * WireGuard's latest handshake message again on a newly active path when it may have been lost,
 * holds back a remote initiation that crossed WireGuard's own, and drops an initiation WireGuard
 * made just before answering a remote one. Owns two timers; stop() cancels both.
 */
export class HandshakeGate {
  readonly #o: HandshakeGateOptions;
  #latest: Latest | undefined;
  /** WireGuard's latest initiation (sent or held) that is neither answered nor abandoned by it. */
  #ownInitiation: { sender: number; atMono: number } | undefined;
  /** A remote initiation that crossed ours, held: handed to WireGuard unless ours is answered first. */
  #crossed: { msg: Buffer; timer: Timer } | undefined;
  /** A remote initiation handed to WireGuard, not answered yet. */
  #answering: { sender: number; timer: Timer } | undefined;
  /** WireGuard's own initiation made while #answering: held until WireGuard answers (then dropped). */
  #doomedInitiation: { msg: Buffer; madeMono: number } | undefined;

  constructor(options: HandshakeGateOptions) {
    this.#o = options;
  }

  stop(): void {
    this.#crossed?.timer.cancel();
    this.#crossed = undefined;
    this.#answering?.timer.cancel();
    this.#answering = undefined;
  }

  /** A datagram from WireGuard: goes to the path unless it is an initiation WireGuard is about to forget. */
  fromWireguard(msg: Buffer): void {
    if (!isHandshake(msg)) {
      this.#o.toPath(msg);
      return;
    }
    // Only WireGuard's newest handshake message is valid: an older one is never sent again.
    this.#latest = undefined;
    const madeMono = this.#o.clock.monotonic();
    if (isInitiation(msg)) {
      const sender = senderOf(msg);
      this.#ownInitiation = { sender, atMono: madeMono };
      this.#crossedAgain(sender);
      if (this.#answering) {
        // Made before WireGuard got to the remote initiation it is answering: answering forgets it.
        this.#doomedInitiation = { msg, madeMono };
        return;
      }
    } else if (isResponse(msg)) {
      this.#ownInitiation = undefined; // WireGuard answered a remote initiation, and so forgot its own
      if (this.#answering && receiverOf(msg) === this.#answering.sender) this.#answered(true);
      this.#releaseCrossed(); // held for the answer to an initiation WireGuard has now forgotten
    }
    this.#send(msg, madeMono);
  }

  /** A WireGuard message from a path, on its way to WireGuard. */
  fromRemote(d: Buffer): void {
    const latest = this.#latest;
    if (isInitiation(d)) {
      // The remote started another handshake: it forgot the one our response completes.
      if (latest?.response && senderOf(d) !== latest.answers) this.#latest = undefined;
      this.#dropCrossed(); // a newer remote initiation supersedes it
      if (!this.#holdCrossed(d)) this.#toWireguardInitiation(d);
      return;
    }
    if (isResponse(d) && this.#ownInitiation && receiverOf(d) === this.#ownInitiation.sender) {
      if (latest && !latest.response && latest.index === this.#ownInitiation.sender) this.#latest = undefined;
      this.#ownInitiation = undefined;
      this.#dropCrossed();
    } else if (
      latest?.response &&
      d[0] === MESSAGE_TRANSPORT_TYPE &&
      d.length >= MESSAGE_TRANSPORT_HEADER_SIZE &&
      d.readUInt32LE(MESSAGE_TRANSPORT_RECEIVER_INDEX_OFFSET) === latest.index
    ) {
      this.#latest = undefined; // the remote uses the session our response made: it arrived
    }
    this.#o.toWireguard(d);
  }

  /**
   * The active path changed. WireGuard's latest handshake message goes out on the new one when it
   * may not have reached the remote: it went nowhere yet (no path was active, `heldHandshakesSent`),
   * or it went out on a path that was silent then, or less than HANDSHAKE_RESEND_WINDOW_MS before
   * that path stopped being active (`handshakesResent`) — otherwise only WireGuard's 5 s retry, or
   * the remote's, would recover the handshake. Only while it is unanswered and younger than
   * REKEY_TIMEOUT_MS: WireGuard has made a newer one by then, and takes only ever newer
   * initiations. The same message twice is harmless: WireGuard drops a replayed initiation (its
   * timestamp is not newer) and a response to a handshake it no longer waits for.
   */
  activeChanged(to: DatagramPath | null): void {
    const l = this.#latest;
    if (!l) return;
    const now = this.#o.clock.monotonic();
    if (l.sentOn !== null && now - l.sentMono < HANDSHAKE_RESEND_WINDOW_MS) l.doubtful = true;
    if (!to || l.sentOn === to) return;
    if (now - l.madeMono >= REKEY_TIMEOUT_MS) {
      this.#latest = undefined;
      return;
    }
    if (l.sentOn === null) this.#o.stats.heldHandshakesSent++;
    else if (l.doubtful) {
      this.#o.stats.handshakesResent++;
      this.#o.log.debug('handshake-resent', { response: l.response, sentAgoMs: now - l.sentMono });
    } else return;
    const sent = this.#o.sendOn(to, l.msg);
    l.sentOn = sent ? to : null;
    l.sentMono = now;
    l.doubtful = sent && this.#o.isSilent(to);
  }

  /** Sends a handshake message from WireGuard and keeps it as the latest. */
  #send(msg: Buffer, madeMono: number): void {
    const response = isResponse(msg);
    const index = response || isInitiation(msg) ? senderOf(msg) : -1;
    const on = this.#o.toPath(msg);
    this.#latest = {
      msg,
      response,
      index,
      answers: response ? receiverOf(msg) : -1,
      madeMono,
      sentOn: on,
      sentMono: this.#o.clock.monotonic(),
      doubtful: on !== null && this.#o.isSilent(on),
    };
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
      this.#send(doomed.msg, doomed.madeMono);
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
    this.#crossed = { msg: d, timer: this.#crossedTimer() };
    return true;
  }

  #crossedTimer(): Timer {
    return this.#o.clock.setTimeout(() => this.#releaseCrossed(), CROSSED_INITIATION_WAIT_MS);
  }

  /**
   * WireGuard made another initiation while a crossed remote one is held: the remote compares the
   * held one with this new one, so judge it again the same way. Still the higher index: hold it
   * on, a full wait from now (releasing it when the wait for the older one ends would have both
   * WireGuards answer each other and forget their own). Now the lower one: it wins on both sides,
   * hand it to WireGuard at once (which makes the new initiation a forgotten one, see #answered).
   */
  #crossedAgain(ownSender: number): void {
    const held = this.#crossed;
    if (!held) return;
    held.timer.cancel();
    if (senderOf(held.msg) > ownSender) held.timer = this.#crossedTimer();
    else this.#releaseCrossed();
  }

  #releaseCrossed(): void {
    const held = this.#crossed;
    if (!held) return;
    held.timer.cancel();
    this.#crossed = undefined;
    this.#o.log.debug('crossed-initiation-released');
    this.#toWireguardInitiation(held.msg);
  }

  #dropCrossed(): void {
    if (!this.#crossed) return;
    this.#crossed.timer.cancel();
    this.#crossed = undefined;
    this.#o.stats.drops.crossedInitiation++;
    this.#o.log.debug('crossed-initiation-dropped');
  }
}
