// Recovery benchmark (issue 5 §4): PeerConn on real components in the lab (see
// test/lab/mesh-lab.ts), N trials per fault → ping outage p50/p95/max, offers and relay tear-downs
// per recovery. Prints a table and one JSON line; asserts nothing. Root only.
//
//   tools/with-node npx nx run-many -t build -p @mesh/peer-conn @mesh/relay-server @mesh/lab
//   tools/with-node npx esbuild packages/peer-conn/bench/recovery.ts --bundle --platform=node \
//     --format=esm --packages=external --outfile=packages/peer-conn/bench/.out/recovery.mjs
//   tools/with-node node packages/peer-conn/bench/.out/recovery.mjs [--trials 10] [--only b,c,d,e,f] [--block-ms 10000]
//
// Trials of one fault share one lab (faults are reset between trials; b/c rotate natA's address
// again each time). f blocks UDP and TURN/TCP for --block-ms (default 10 s, not the lab test's 60 s)
// and also reports how long the way back to ICE took after unblocking (and which kind).
import { MeshLab, measureRecovery, type Trial, waitForProbes } from '../test/lab/mesh-lab.js';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? (argv[i + 1] ?? dflt) : dflt;
};
const TRIALS = Number(arg('--trials', '10'));
const ONLY = arg('--only', 'b,c,d,e,f').split(',');
const BLOCK_MS = Number(arg('--block-ms', '10000'));

interface Scenario {
  id: string;
  what: string;
  /** Loud: a socket breaks (target ≤ 3 s p95). Silent: a path just stops (target ≤ 6 s p95). */
  kind: 'loud' | 'silent';
  relayOnly: boolean;
  fault: (ml: MeshLab) => Promise<void>;
  /** Extra work after the recovery (f: unblock and wait for ICE); returns extra fields. */
  after?: (ml: MeshLab) => Promise<Record<string, unknown>>;
}

const rotate = async (ml: MeshLab) => {
  await ml.lab.rotatePublicIp('natA');
  await ml.lab.conntrackFlush('natA');
};

const SCENARIOS: Scenario[] = [
  { id: 'b', what: 'relay path: natA IP rotated + conntrack -F', kind: 'loud', relayOnly: true, fault: rotate },
  { id: 'c', what: 'ICE path: natA IP rotated + conntrack -F', kind: 'silent', relayOnly: false, fault: rotate },
  {
    id: 'd',
    what: "relay drops A's session (socket cut, B not told)",
    kind: 'loud',
    relayOnly: true,
    fault: (ml) => ml.dropRelaySession('peerA'),
  },
  { id: 'e', what: 'relay server restart', kind: 'loud', relayOnly: true, fault: (ml) => ml.restartRelay() },
  {
    id: 'f',
    what: `UDP + TURN/TCP blocked at natA (${BLOCK_MS / 1000} s) while on ICE`,
    kind: 'silent',
    relayOnly: false,
    fault: (ml) => ml.relayOnly(true),
    after: async (ml) => {
      await new Promise((r) => setTimeout(r, BLOCK_MS));
      const mark = ml.monitor!.outages().length;
      await ml.relayOnly(false);
      const t0 = Date.now();
      // Either ICE kind: werift sometimes nominates the TURN pair (see the report).
      const back = await ml.until((s) => ICE.has(s.active), 90_000, 'back on ICE');
      return {
        backToIceMs: Date.now() - t0,
        iceKind: back[0].active,
        outagesOnReturn: ml.monitor!.outages().slice(mark),
      };
    },
  },
];

const ICE = new Set(['ice-direct', 'ice-turn']);

/** Both sides in the scenario's steady state: relay, or ICE (either kind) with the relay as warm standby. */
async function steady(ml: MeshLab, relayOnly: boolean): Promise<void> {
  if (relayOnly) await ml.until((s) => s.active === 'relay' && !s.relay.stale, 60_000, 'relay');
  else await ml.until((s) => ICE.has(s.active) && s.standby.includes('relay'), 60_000, 'ICE + relay standby');
  await waitForProbes(ml.monitor ?? (await ml.startMonitor(60_000)), 10, 30_000);
}

function stats(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { n: s.length, p50: at(0.5), p95: at(0.95), max: s.at(-1) ?? Number.NaN, mean: Math.round(mean * 10) / 10 };
}

const results: Record<string, { scenario: Scenario; trials: (Trial & Record<string, unknown>)[]; failures: string[] }> =
  {};
const started = Date.now();
for (const sc of SCENARIOS.filter((s) => ONLY.includes(s.id))) {
  const r = { scenario: sc, trials: [] as (Trial & Record<string, unknown>)[], failures: [] as string[] };
  results[sc.id] = r;
  const ml = await MeshLab.create({ relayOnly: sc.relayOnly });
  try {
    for (let i = 0; i < TRIALS; i++) {
      try {
        await steady(ml, sc.relayOnly);
        const t = await measureRecovery(ml, sc.id, () => sc.fault(ml), 60_000);
        const extra = sc.after ? await sc.after(ml) : {};
        r.trials.push({ ...t, ...extra });
        console.error(`${sc.id}#${i + 1}: outage ${t.outageMs} ms, offers ${t.offers}, tear-downs ${t.teardowns}`);
      } catch (err) {
        r.failures.push(String((err as Error).message).slice(0, 300));
        console.error(`${sc.id}#${i + 1}: FAILED ${String(err).slice(0, 300)}`);
      }
    }
  } finally {
    await ml.destroy();
  }
}

const rows = Object.values(results).map(({ scenario: sc, trials, failures }) => {
  const o = stats(trials.map((t) => t.outageMs));
  const target = sc.kind === 'loud' ? 3000 : 6000;
  return {
    id: sc.id,
    what: sc.what,
    kind: sc.kind,
    trials: trials.length,
    failed: failures.length,
    outageMs: o,
    targetP95Ms: target,
    meetsTarget: o.p95 <= target,
    offersPerRecovery: stats(trials.map((t) => t.offers)),
    teardownsPerRecovery: stats(trials.map((t) => t.teardowns)),
    reopens: trials.reduce((n, t) => n + t.reopens.a + t.reopens.b, 0),
    /** Path before the fault → after recovery, per trial (A's view). */
    paths: trials.map((t) => `${t.before.a}→${t.after.a}`),
    ...(sc.id === 'f'
      ? { backToIceMs: stats(trials.map((t) => Number(t.backToIceMs))), iceKinds: trials.map((t) => t.iceKind) }
      : {}),
    failures,
  };
});

const pad = (v: unknown, n: number) => String(v).padEnd(n);
console.log(
  `\nPeerConn recovery in the lab (${TRIALS} trials per fault, ${Math.round((Date.now() - started) / 1000)} s)`,
);
console.log(
  `${pad('fault', 58)}${pad('kind', 8)}${pad('n', 4)}${pad('outage p50/p95/max ms', 24)}${pad('target', 8)}${pad('offers mean/max', 17)}tear-downs mean/max`,
);
for (const r of rows) {
  console.log(
    `${pad(`${r.id}. ${r.what}`, 58)}${pad(r.kind, 8)}${pad(r.trials, 4)}${pad(`${r.outageMs.p50}/${r.outageMs.p95}/${r.outageMs.max}`, 24)}${pad(`${r.meetsTarget ? '✓' : '✗'} ${r.targetP95Ms}`, 8)}${pad(`${r.offersPerRecovery.mean}/${r.offersPerRecovery.max}`, 17)}${r.teardownsPerRecovery.mean}/${r.teardownsPerRecovery.max}`,
  );
  if ('backToIceMs' in r && r.backToIceMs) {
    console.log(
      `${pad('   f: unblock → ICE again (ms)', 58)}p50/p95/max ${r.backToIceMs.p50}/${r.backToIceMs.p95}/${r.backToIceMs.max}`,
    );
  }
}
console.log(JSON.stringify({ bench: 'peer-conn-recovery', trialsPerFault: TRIALS, blockMs: BLOCK_MS, rows, results }));
