import type { DatagramPath } from '@mesh/core';
import { QUALITY } from '../constants.js';
import type { Components } from './components.js';
import { isUsable, type PathTable, type Slot } from './path-table.js';

/** What the endpoint's probes say about one path: its loss over the window, and whether it is usable. */
export interface QualitySample {
  /** Lost probes over the endpoint's window, in percent; null until enough probes resolved. */
  lossPct: number | null;
  /** Attached, not judged dead, not silent. */
  usable: boolean;
  /** A probe on it was answered within QUALITY.ANSWERING_MS: a lossy path, not a dying one. */
  answering: boolean;
}

/** What the samples say right now about ICE against the relay standby. */
export type QualityCondition = 'ice-lossy' | 'ice-clean' | 'neutral';

/**
 * The quality rule, pure. `ice-lossy`: ICE loses clearly more than a usable relay that has been
 * measured (both must be known: an unmeasured relay is no better bet). `ice-clean`: ICE loses
 * (almost) nothing. Anything else changes nothing.
 */
export function qualityCondition(ice: QualitySample | null, relay: QualitySample | null): QualityCondition {
  if (!ice?.usable || ice.lossPct === null) return 'neutral';
  if (ice.lossPct <= QUALITY.CLEAN_PCT) return 'ice-clean';
  if (
    ice.lossPct >= QUALITY.LOSSY_PCT &&
    relay?.usable === true &&
    relay.lossPct !== null &&
    relay.lossPct + QUALITY.MARGIN_PCT <= ice.lossPct
  ) {
    return 'ice-lossy';
  }
  return 'neutral';
}

/**
 * The follow rule, pure: the remote moved its traffic to the relay, our own probes see ICE losing
 * too (at least FOLLOW_PCT) yet still answering, and the usable relay loses less. Each side's gate
 * decides from its own window, and two windows over the same loss disagree by seconds; until both
 * sides have moved, one direction of the tunnel still crosses the lossy path. A path that stopped
 * answering is dying, no quality matter: its session is replaced, and a demotion would outlive it.
 */
export function followsRemoteToRelay(ice: QualitySample | null, relay: QualitySample | null): boolean {
  if (!ice?.usable || !ice.answering || ice.lossPct === null || ice.lossPct < QUALITY.FOLLOW_PCT) return false;
  return relay?.usable === true && relay.lossPct !== null && relay.lossPct < ice.lossPct;
}

/** A decision of the gate: demote ICE below the relay, or promote it back. */
export type QualitySwitch = 'demote' | 'promote';

/**
 * Hysteresis over `qualityCondition`: a condition must hold for a while before it switches, a
 * demotion lasts at least its dwell (doubling while demotions recur), and switches are bounded
 * per minute, so a path that is bad on and off cannot make the tunnel flap. Pure state machine:
 * time comes in with each sample (monotonic ms); no timers.
 */
export class QualityGate {
  // ---- Owned by PeerConn's queue. ----
  #demoted = false;
  #condition: QualityCondition = 'neutral';
  #conditionSince = 0;
  #demotedAt = 0;
  #promotedAt = Number.NEGATIVE_INFINITY;
  #dwellMs: number = QUALITY.MIN_DWELL_MS;
  #switches: number[] = [];
  // ------------------------------------

  /** ICE ranks below the relay while true. */
  get demoted(): boolean {
    return this.#demoted;
  }

  /**
   * Feeds the latest samples, and whether the remote moved its traffic from the ICE path to the
   * relay; returns the switch to make now, if any. That move is followed at once when
   * `followsRemoteToRelay` holds (same dwell and switch bound as a demotion of our own).
   */
  onSample(
    nowMono: number,
    ice: QualitySample | null,
    relay: QualitySample | null,
    remoteLeftIce = false,
  ): QualitySwitch | null {
    const condition = qualityCondition(ice, relay);
    if (condition !== this.#condition) {
      this.#condition = condition;
      this.#conditionSince = nowMono;
    }
    const held = nowMono - this.#conditionSince;
    const follow = remoteLeftIce && followsRemoteToRelay(ice, relay);
    if (
      !this.#demoted &&
      ((condition === 'ice-lossy' && held >= QUALITY.DEMOTE_AFTER_MS) || follow) &&
      this.#mayAt(nowMono)
    ) {
      return this.#demote(nowMono);
    }
    if (
      this.#demoted &&
      condition === 'ice-clean' &&
      held >= QUALITY.PROMOTE_AFTER_MS &&
      nowMono - this.#demotedAt >= this.#dwellMs &&
      this.#mayAt(nowMono)
    ) {
      this.#demoted = false;
      this.#promotedAt = nowMono;
      return this.#switched(nowMono, 'promote');
    }
    return null;
  }

  #demote(nowMono: number): QualitySwitch {
    // A relapse soon after the last promotion doubles the dwell: the path is bad on and off.
    this.#dwellMs =
      nowMono - this.#promotedAt < QUALITY.DWELL_MEMORY_MS
        ? Math.min(this.#dwellMs * 2, QUALITY.MAX_DWELL_MS)
        : QUALITY.MIN_DWELL_MS;
    this.#demoted = true;
    this.#demotedAt = nowMono;
    return this.#switched(nowMono, 'demote');
  }

  #mayAt(nowMono: number): boolean {
    this.#switches = this.#switches.filter((t) => nowMono - t < 60_000);
    return this.#switches.length < QUALITY.MAX_SWITCHES_PER_MIN;
  }

  #switched(nowMono: number, s: QualitySwitch): QualitySwitch {
    this.#switches.push(nowMono);
    return s;
  }
}

/**
 * Each resolved probe, as the endpoint reports it: the slot's loss, consent evidence for the ICE
 * session (an answered probe proves the remote receives us), and the quality gate, which may
 * re-rank ICE against the relay; the remote's own move to the relay (`remote-path`) is a sample too.
 */
export class PathQuality {
  readonly gate = new QualityGate();
  readonly #c: Components;
  readonly #paths: PathTable;
  /**
   * Owned by PeerConn's queue: the remote's latest move of its WireGuard data (`remote-path`). Only
   * a move from our ICE path to the relay is followed: a remote still on the relay while a fresh
   * session comes up has made no judgement of it.
   */
  #remoteMove: { from: DatagramPath; to: DatagramPath } | null = null;

  constructor(components: Components, init: { paths: PathTable }) {
    this.#c = components;
    this.#paths = init.paths;
  }

  onProbe(info: { path: DatagramPath; answered: boolean; lossPct: number | null }): void {
    const slot = this.#paths.slotOf(info.path);
    if (!slot) return;
    slot.lossPct = info.lossPct;
    if (info.answered) {
      slot.answeredAt = this.#c.clock.monotonic();
      slot.consentEvidence?.();
    }
    this.#judge();
  }

  /** The remote's WireGuard data now arrive on `path`, after `from` (the endpoint's `remote-path`). */
  onRemotePath(path: DatagramPath, from: DatagramPath | null): void {
    this.#remoteMove = from ? { from, to: path } : null;
    this.#judge();
  }

  #judge(): void {
    const { ice, relay } = this.#paths;
    const move = this.#remoteMove;
    const left = move !== null && move.from === ice?.path && move.to === relay?.path;
    const now = this.#c.clock.monotonic();
    const decision = this.gate.onSample(now, sample(ice, now), sample(relay, now), left);
    if (!decision) return;
    this.#c.log.info('path-quality', {
      decision,
      remoteLeftIce: left,
      iceLossPct: ice?.lossPct ?? null,
      relayLossPct: relay?.lossPct ?? null,
    });
    this.#paths.select(`quality-${decision}`);
  }
}

function sample(slot: Slot | null, now: number): QualitySample | null {
  if (!slot) return null;
  const answering = slot.answeredAt !== null && now - slot.answeredAt <= QUALITY.ANSWERING_MS;
  return { lossPct: slot.lossPct, usable: isUsable(slot), answering };
}
