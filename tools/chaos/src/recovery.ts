/**
 * Issue 11's fault classes as measured trials: roaming to another uplink, STUN-only (consent) loss,
 * a lossy direct path, and restarts of one peer's agent. test/lab/recovery.lab.ts asserts the
 * acceptance on them; the benchmark repeats them for p50/p95/max. A trial measures and never
 * asserts, so today's numbers are recorded even where the acceptance fails.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Subscriptions } from '@mesh/core';
import type { LabProcess } from '@mesh/lab';
import { type OutageMeasure, type Rig, ROLES, type Role, waitProbes } from './rig.js';
import { ChaosError, type PathName } from './status.js';

/** Waits (bounded) until both agents are on ice-direct; false when they are not by `timeoutMs`. */
export async function settleDirect(rig: Rig, timeoutMs = 120_000): Promise<boolean> {
  try {
    for (const role of ROLES) await rig.waitStatusPath(role, 'ice-direct', timeoutMs);
    return true;
  } catch (err) {
    if (err instanceof ChaosError && err.code === 'ERR_CHAOS_TIMEOUT') return false;
    throw err;
  }
}

/** Both agents' current paths. */
async function paths(rig: Rig): Promise<Record<Role, PathName | undefined>> {
  const out = {} as Record<Role, PathName | undefined>;
  for (const role of ROLES) out[role] = (await rig.status(role)).peers[0]?.path;
  return out;
}

/** Path changes per agent since `marks`, by the path they went to. */
export type PathChanges = Record<Role, { total: number; toRelay: number; toDirect: number }>;

function marks(rig: Rig): Record<Role, number> {
  return { peerA: rig.mark('peerA'), peerB: rig.mark('peerB') };
}

function pathChanges(rig: Rig, since: Record<Role, number>): PathChanges {
  const out = {} as PathChanges;
  for (const role of ROLES) {
    const ev = rig.events(role, 'path-changed', since[role]);
    out[role] = {
      total: ev.length,
      toRelay: ev.filter((e) => e.to === 'relay').length,
      toDirect: ev.filter((e) => e.to === 'ice-direct').length,
    };
  }
  return out;
}

/** A trial that did not recover within its bound: no measure, the reason instead. */
function timedOut(err: unknown): string | undefined {
  if (err instanceof ChaosError && err.code === 'ERR_CHAOS_TIMEOUT') return err.message;
  throw err;
}

// ---- ROAM ---------------------------------------------------------------------------------------

export interface RoamTrial {
  /** The uplink peerA roamed to. */
  to: number;
  /** null when the tunnel was not back within the bound (`error` says why). */
  measure: OutageMeasure | null;
  error?: string;
  /** Both agents' paths once the tunnel was back. */
  paths: Record<Role, PathName | undefined>;
  changes: PathChanges;
}

/**
 * peerA roams to its uplink `to` (Wi-Fi ↔ LTE): new local address, new NAT and public address,
 * new default route, the old link gone. "Tunnel back" is `measure.recoveredAfterMs`.
 */
export async function roamTrial(rig: Rig, to: number, recoverTimeoutMs = 60_000): Promise<RoamTrial> {
  const since = marks(rig);
  let measure: OutageMeasure | null = null;
  let error: string | undefined;
  try {
    measure = await rig.measure(() => rig.lab.roam('peerA', to), { recoverTimeoutMs });
  } catch (err) {
    error = timedOut(err);
  }
  return { to, measure, ...(error ? { error } : {}), paths: await paths(rig), changes: pathChanges(rig, since) };
}

// ---- CONSENT-ONLY LOSS --------------------------------------------------------------------------

export interface ConsentLossTrial {
  measure: OutageMeasure;
  /** STUN dropped → the first `path-changed` of either agent; null if none. */
  firstChangeMs: number | null;
  /** STUN packets the rule dropped (ICE checks and consent requests/responses between the peers). */
  stunDropped: number;
  changes: PathChanges;
  durationMs: number;
}

/**
 * STUN between the peers is dropped at natA for `durationMs` while WireGuard and the agents'
 * probes still flow on the direct pair: nothing should notice.
 */
export async function consentLossTrial(rig: Rig, durationMs = 60_000): Promise<ConsentLossTrial> {
  const since = marks(rig);
  let stunDropped = 0;
  let t0 = 0;
  try {
    const measure = await rig.measure(async () => {
      t0 = Date.now();
      await rig.lab.dropStun('natA', true);
      await delay(durationMs); // the fault's duration: consent expires 30 s after the last response (RFC 7675)
      stunDropped = await rig.rulePackets('natA', 'FORWARD', 'meshlab-drop-stun');
      await rig.lab.dropStun('natA', false);
    });
    const first = ROLES.flatMap((r) => rig.events(r, 'path-changed', since[r]).map((e) => Date.parse(String(e.ts))));
    const firstChangeMs = first.length > 0 ? Math.min(...first) - t0 : null;
    return { measure, firstChangeMs, stunDropped, changes: pathChanges(rig, since), durationMs };
  } finally {
    await rig.lab.dropStun('natA', false);
  }
}

// ---- LOSSY DIRECT PATH --------------------------------------------------------------------------

export interface LossyPathTrial {
  lossPct: number;
  durationMs: number;
  /** Loss start → peerA's `path-changed` to relay; null if it never switched during the loss. */
  toRelayMs: number | null;
  /** Ping loss from that switch to the end of the loss (%); null without a switch. */
  lossAfterSwitchPct: number | null;
  /** Ping loss over the whole fault (%). */
  lossDuringPct: number;
  /** Loss end → peerA on ice-direct again (0 if it never left); null if not within the bound. */
  backToDirectMs: number | null;
  changes: PathChanges;
  measure: OutageMeasure;
}

/** Lost probes among those sent in [from, to) (%), from the monitor's outages. */
function lossPct(m: OutageMeasure, from: number, to: number): number {
  const interval = m.report.intervalMs;
  let lost = 0;
  for (const o of m.report.outages) {
    // The run's lost probes were sent evenly from startAt up to the first answered one.
    const step = ((o.endAt ?? o.startAt + o.lost * interval) - o.startAt) / o.lost;
    for (let k = 0; k < o.lost; k++) {
      const sentAt = o.startAt + k * step;
      if (sentAt >= from && sentAt < to) lost++;
    }
  }
  const sent = Math.max(1, Math.round((to - from) / interval));
  return (100 * Math.min(lost, sent)) / sent;
}

/** Loss end → peerA's `path-changed` to ice-direct (0 if it never left it); null past the bound. */
async function backToDirect(rig: Rig, markEnd: number, endAt: number, timeoutMs: number): Promise<number | null> {
  const seen = rig.events('peerA', 'path-changed', markEnd).find((e) => e.to === 'ice-direct');
  if (!seen && (await rig.status('peerA')).peers[0]?.path === 'ice-direct') return 0;
  const back =
    seen ??
    (await rig
      .waitPath('peerA', 'ice-direct', { after: markEnd, timeoutMs: Math.max(1, endAt + timeoutMs - Date.now()) })
      .catch(() => null));
  return back ? Date.parse(String(back.ts)) - endAt : null;
}

/**
 * `lossPct` random loss of peer↔peer UDP at natA (svc spared: TURN, STUN to svc and the relay's
 * TCP stay clean) for `durationMs`; then the way back to ice-direct.
 */
export async function lossyPathTrial(
  rig: Rig,
  options: { lossPct?: number; durationMs?: number; backTimeoutMs?: number } = {},
): Promise<LossyPathTrial> {
  const { lossPct: pct = 30, durationMs = 60_000, backTimeoutMs = 60_000 } = options;
  const since = marks(rig);
  let t0 = 0;
  let switchAt: number | null = null;
  let endAt = 0;
  let markEnd = 0;
  try {
    const measure = await rig.measure(
      async () => {
        t0 = Date.now();
        await rig.lab.udpLoss('natA', true, { lossPct: pct });
        const sw = await rig
          .waitPath('peerA', 'relay', { after: since.peerA, timeoutMs: durationMs })
          .catch(() => null);
        if (sw) switchAt = Date.parse(String(sw.ts));
        await delay(Math.max(0, t0 + durationMs - Date.now())); // the rest of the fault's duration
        markEnd = rig.mark('peerA');
        endAt = Date.now();
        await rig.lab.udpLoss('natA', false);
      },
      { recoverTimeoutMs: backTimeoutMs },
    );
    const backToDirectMs = await backToDirect(rig, markEnd, endAt, backTimeoutMs);
    return {
      lossPct: pct,
      durationMs,
      toRelayMs: switchAt === null ? null : switchAt - t0,
      lossAfterSwitchPct: switchAt === null ? null : lossPct(measure, switchAt, endAt),
      lossDuringPct: lossPct(measure, t0, endAt),
      backToDirectMs,
      changes: pathChanges(rig, since),
      measure,
    };
  } finally {
    await rig.lab.udpLoss('natA', false);
  }
}

// ---- PEER RESTARTS ------------------------------------------------------------------------------

/** One `recovered` an agent logged, and the first ping reply through the tunnel after it. */
export interface RecoveredGap {
  role: Role;
  /** The agent's log timestamp (wall ms). */
  at: number;
  path: unknown;
  /** First reply after `at` − `at`; null if none came before the trial ended. */
  gapMs: number | null;
}

export interface RestartTrial {
  index: number;
  /** SIGTERM sent → the first ping reply after the new agent's `agent-up`. */
  tunnelMs: number;
  /** In-tunnel outage (sum) from the SIGTERM on. */
  outageMs: number;
  /** Offers and relay tear-downs of both agents during the trial (the restarted one counts from 0). */
  offers: number;
  teardowns: number;
  recovered: RecoveredGap[];
  /** When a gap exceeded 1 s: both agents' log lines around it and `wg show dump` on both sides. */
  evidence?: string[];
}

/** Longest a received probe's event can lag its reply: the probes before it settle within their loss timeout. */
const SETTLE_MS = 1_500;

/** Log events that show where a handshake went. */
const EVIDENCE_RE =
  /"event":"(path-changed|active-changed|recovered|handshake-timeout|path-silent|path-alive|peer-started|agent-up|[a-z-]*initiation[a-z-]*|ice-[a-z-]+|session-rotated|offer[a-z-]*)"/;

/**
 * Restarts `role`'s agent `count` times (SIGTERM, then start again with the same config), one
 * in-tunnel ping running throughout. For every `recovered` either agent logs, the gap to the
 * first ping reply after it; a gap over 1 s captures evidence at that moment.
 */
export async function restartTrials(
  rig: Rig,
  count: number,
  options: { role?: Role; intervalMs?: number; onTrial?: (t: RestartTrial) => void } = {},
): Promise<RestartTrial[]> {
  const { role = 'peerB', intervalMs = 100 } = options;
  const mon = rig.monitor(intervalMs);
  const subs = new Subscriptions();
  const replies: number[] = [];
  const gaps: RecoveredGap[] = [];
  const pendingEvidence: Promise<string[]>[] = [];
  const lines = new Map<LabProcess, string[]>();
  subs.on(mon, 'probe', (p) => {
    if (p.receivedAt === null) return;
    replies.push(p.receivedAt);
    for (const g of gaps) if (g.gapMs === null && p.receivedAt >= g.at) g.gapMs = p.receivedAt - g.at;
  });
  const follow = (r: Role) => {
    const proc = rig.agents[r].proc;
    const kept: string[] = [];
    lines.set(proc, kept);
    subs.on(proc, 'line', (l) => {
      if (!EVIDENCE_RE.test(l)) return;
      kept.push(`${r} ${l}`);
      if (!l.includes('"event":"recovered"')) return;
      const e = JSON.parse(l) as { ts: string; path?: unknown };
      const g: RecoveredGap = { role: r, at: Date.parse(e.ts), path: e.path, gapMs: null };
      const after = replies.find((t) => t >= g.at);
      if (after !== undefined) g.gapMs = after - g.at;
      gaps.push(g);
      // The acceptance is a reply within 1 s: look at both WireGuards at that moment. Whether a
      // reply came is known only once the probes before it have settled (each within its loss
      // timeout), so the dumps are kept only if, a little later, no reply arrived within the 1 s.
      pendingEvidence.push(
        delay(Math.max(0, g.at + 1_000 - Date.now())).then(async () => {
          if (g.gapMs !== null && g.gapMs <= 1_000) return [];
          const wg = await Promise.all(ROLES.map(async (x) => `${x} wg show dump:\n${await rig.wgDump(x)}`));
          await delay(Math.max(0, g.at + 1_000 + SETTLE_MS - Date.now()));
          if (g.gapMs !== null && g.gapMs <= 1_000) return [];
          const around = [...lines.values()].flat().filter((x) => {
            const ts = Date.parse(/"ts":"([^"]+)"/.exec(x)?.[1] ?? '');
            return Math.abs(ts - g.at) <= 10_000;
          });
          return [
            `recovered ${r} at ${new Date(g.at).toISOString()} (${JSON.stringify(g.path)}), no reply within 1 s`,
            ...around,
            ...wg,
          ];
        }),
      );
    });
  };
  const trials: RestartTrial[] = [];
  try {
    await waitProbes(mon, 1, 0, 30_000);
    for (const r of ROLES) follow(r);
    for (let i = 0; i < count; i++) {
      await settleDirect(rig, 60_000);
      const first = gaps.length;
      const evidenceFrom = pendingEvidence.length;
      const stay = ROLES.find((r) => r !== role)!;
      const before = (await rig.status(stay)).peers[0]?.counters;
      const t0 = Date.now();
      await rig.agents[role].proc.stop(5_000);
      await rig.startAgent(role);
      follow(role);
      const upAt = Date.now();
      // Event-driven: 10 answered probes in a row after the new agent is up, and both on ice-direct.
      const firstReplyAt = await waitProbes(mon, 10, upAt, 60_000);
      await settleDirect(rig, 60_000);
      const outages = mon.outages().filter((o) => o.startAt >= t0 - intervalMs);
      const after = {
        [stay]: (await rig.status(stay)).peers[0]?.counters,
        [role]: (await rig.status(role)).peers[0]?.counters,
      };
      const grew = (k: 'offersSent' | 'relayTeardowns') =>
        (after[stay]?.[k] ?? 0) - (before?.[k] ?? 0) + (after[role]?.[k] ?? 0);
      const trial: RestartTrial = {
        index: i,
        tunnelMs: (replies.find((t) => t >= firstReplyAt) ?? firstReplyAt) - t0,
        outageMs: outages.reduce((a, o) => a + (o.durationMs ?? Date.now() - o.startAt), 0),
        offers: grew('offersSent'),
        teardowns: grew('relayTeardowns'),
        recovered: [],
      };
      // Evidence timers of this trial's recoveries fire within 1 s; let them finish. The gaps are
      // the live records: a reply later than that still fills its gap in.
      const evidence = (await Promise.all(pendingEvidence.slice(evidenceFrom))).flat();
      trial.recovered = gaps.slice(first);
      if (evidence.length > 0) trial.evidence = evidence;
      trials.push(trial);
      options.onTrial?.(trial);
    }
    return trials;
  } finally {
    subs.clear();
    await mon.stop();
  }
}
