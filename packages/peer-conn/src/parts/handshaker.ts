import { toError } from '@mesh/core';
import type { IceCandidateMessage } from '@mesh/ice-worker';
import { MAX_APPLIED_CANDIDATES, MAX_REPEATED_CANDIDATES } from '../constants.js';
import {
  type IceOfferPart,
  LOCAL_CAPABILITIES,
  type OfferMessage,
  parseSignalMessage,
  SIGNAL_PROTOCOL_VERSION,
  type SignalMessage,
} from '../messages.js';
import type { Components } from './components.js';
import type { IceDriver } from './ice-driver.js';
import type { Meeting } from './meeting.js';
import type { RelayWorker } from './relay-worker.js';
import type { RemoteView } from './remote-view.js';

export interface HandshakerInit {
  remote: RemoteView;
  ice: IceDriver;
  relay: RelayWorker;
  meeting: Meeting;
  send: (message: SignalMessage) => void;
  /** A path carries traffic: a remote session change then does not restart the ladder. */
  hasActivePath: () => boolean;
}

/**
 * Offers, answers and candidates: builds ours (capabilities, ICE session, home relay and mark, the
 * candidates gathered so far) and applies the remote's, keeping its capabilities, home relay and
 * session in the RemoteView. Duplicated, reordered and dropped messages converge: every offer
 * repeats what was lost, and anything naming a remote ICE session already known dead is old news.
 */
export class Handshaker {
  // ---- Owned by PeerConn's queue. ----
  /** Our candidates for the current local ICE session, repeated in every offer and answer. */
  #localCandidates: { sessionId: string; list: unknown[] } = { sessionId: '', list: [] };
  /** Remote candidates already handed to the ICE worker, so repeats cost nothing. */
  #applied = new Set<string>();
  // ------------------------------------
  readonly #c: Components;
  readonly #i: HandshakerInit;

  constructor(components: Components, init: HandshakerInit) {
    this.#c = components;
    this.#i = init;
  }

  /** `ice`: what the ICE worker answered to the offer (carries `inReplyTo`); else our current session. */
  send(type: 'offer' | 'answer', ice?: IceOfferPart): void {
    const home = this.#c.relay?.homeInstanceUrl;
    this.#i.meeting.dropOutdatedMark();
    const unreachable = this.#i.meeting.markedUrl;
    const msg: OfferMessage = {
      type,
      version: SIGNAL_PROTOCOL_VERSION,
      caps: [...LOCAL_CAPABILITIES],
      ice: ice ?? this.#i.ice.offering?.localOffer() ?? null,
      relay: home ? { url: home, ...(unreachable ? { unreachable } : {}) } : null,
    };
    const local = this.#localCandidates;
    if (msg.ice && local.sessionId === msg.ice.sessionId && local.list.length > 0) msg.candidates = [...local.list];
    if (type === 'offer') this.#c.counters.offersSent++;
    else this.#c.counters.answersSent++;
    this.#i.send(msg);
  }

  /** A candidate our ICE worker gathered: trickle it and remember it for the next offers. */
  onLocalCandidate(m: IceCandidateMessage): void {
    if (this.#localCandidates.sessionId !== m.sessionId) this.#localCandidates = { sessionId: m.sessionId, list: [] };
    if (this.#localCandidates.list.length < MAX_REPEATED_CANDIDATES) this.#localCandidates.list.push(m);
    this.#c.counters.candidatesSent++;
    this.#i.send({ type: 'candidate', version: SIGNAL_PROTOCOL_VERSION, sessionId: m.sessionId, candidate: m });
  }

  async onSignal(raw: unknown): Promise<void> {
    let msg: SignalMessage;
    try {
      msg = parseSignalMessage(raw);
    } catch (err) {
      this.#c.counters.badMessages++;
      this.#c.log.warn('bad-signal-message', { error: toError(err) });
      return;
    }
    if (msg.type === 'candidate') {
      this.#c.counters.candidatesReceived++;
      await this.#applyCandidate(msg.candidate);
      return;
    }
    await this.#onOfferOrAnswer(msg);
  }

  async #applyCandidate(candidate: unknown): Promise<void> {
    const worker = this.#i.ice.worker;
    if (!worker) return;
    const id = JSON.stringify(candidate);
    if (this.#applied.has(id)) return;
    if (this.#applied.size >= MAX_APPLIED_CANDIDATES) this.#applied.clear();
    this.#applied.add(id);
    await worker.addRemoteCandidate(candidate).catch((err: unknown) => {
      this.#c.counters.badMessages++;
      this.#c.log.debug('bad-candidate', { error: toError(err) });
    });
  }

  async #onOfferOrAnswer(msg: OfferMessage): Promise<void> {
    const isOffer = msg.type === 'offer';
    if (isOffer) this.#c.counters.offersReceived++;
    else this.#c.counters.answersReceived++;
    if (msg.ice && this.#i.ice.isDeadRemoteSession(msg.ice.sessionId)) {
      // Sent before the remote rotated and delivered late: acting on it would end the live session
      // for one that no longer exists (and its relay view may be as old).
      this.#c.log.debug('offer-dead-session', { type: msg.type, session: msg.ice.sessionId });
      return;
    }
    const remote = this.#i.remote;
    remote.caps = msg.caps;
    remote.relayUrl = msg.relay?.url ?? null;
    // The remote is connected to that relay while our home is down: evidence it is back, so our
    // manager need not wait out its reconnect ladder (it ignores URLs that are not ours, and floods).
    if (remote.relayUrl && this.#c.relay && !this.#c.relay.homeInstanceUrl) {
      this.#c.relay.retryHome(remote.relayUrl, 'peer-reached');
    }
    remote.unreachable = msg.relay?.unreachable ?? null;
    const remoteSession = msg.ice?.sessionId ?? null;
    const sessionChanged = remoteSession !== null && remoteSession !== remote.iceSession;
    if (remoteSession !== null) remote.iceSession = remoteSession;

    const worker = this.#i.ice.worker;
    let answerIce: IceOfferPart | undefined;
    if (worker && msg.ice) {
      try {
        if (isOffer) answerIce = await worker.onRemoteOffer(msg.ice);
        else await worker.onRemoteAnswer(msg.ice);
      } catch (err) {
        this.#c.counters.badMessages++;
        this.#c.log.debug('ice-offer-rejected', { error: toError(err) });
      }
      for (const c of msg.candidates ?? []) await this.#applyCandidate(c);
    }
    this.#i.relay.onOffer();
    if (isOffer) this.send('answer', answerIce);
    // A new remote session means the remote restarted negotiation: restart our ladder with it —
    // but only while no path carries traffic. On a working relay, ICE attempts failing on both sides
    // rotate sessions every connect timeout; resetting the ladder each time would defeat its cap.
    if (sessionChanged && !this.#i.hasActivePath()) this.#c.guard.kick();
  }
}
