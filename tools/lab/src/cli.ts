#!/usr/bin/env node
/**
 * mesh-lab CLI: `up | down <runId> | cleanup | status | demo`.
 *   up [--natA cone|symmetric] [--natB cone|symmetric] [--uplinks 1|2] [--run-id ID] [--coturn]
 *      builds a lab, prints its namespaces and addresses as JSON, keeps it until Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { JsonLinesLogger } from '@mesh/core';
import { LabError, LabErrorCodes } from './errors.js';
import { runCommandSync } from './exec.js';
import { Lab } from './lab.js';
import { parseNetnsList, parseNetnsName } from './names.js';
import { cleanupLeftoverLabs, ownerAlive, readRecords, recordPath, teardownSync } from './registry.js';
import type { NatKind } from './topology.js';

const USAGE = `usage: mesh-lab <command>
  up [--natA cone|symmetric] [--natB cone|symmetric] [--uplinks 1|2] [--run-id ID] [--coturn]
                 build a lab, print it, keep it until Ctrl-C
  down <runId>   remove the lab with this run id (asks its owner to stop first)
  cleanup        remove labs whose owner process is dead
  status         list labs on this machine
  demo           the smoke demo (examples/lab-demo; build it first)`;

function natKind(v: string | undefined): NatKind {
  if (v === undefined || v === 'cone' || v === 'symmetric') return v ?? 'cone';
  throw new LabError(LabErrorCodes.INVALID, `NAT kind must be cone or symmetric (got '${v}')`);
}

function uplinks(v: string | undefined): 1 | 2 {
  if (v === undefined || v === '1' || v === '2') return v === '2' ? 2 : 1;
  throw new LabError(LabErrorCodes.INVALID, `--uplinks must be 1 or 2 (got '${v}')`);
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      natA: { type: 'string' },
      natB: { type: 'string' },
      uplinks: { type: 'string' },
      'run-id': { type: 'string' },
      coturn: { type: 'boolean' },
    },
  });
  const lab = await Lab.create({
    natA: natKind(values.natA),
    natB: natKind(values.natB),
    uplinks: uplinks(values.uplinks),
    runId: values['run-id'],
    logger: new JsonLinesLogger({ write: (l) => process.stderr.write(l) }),
  });
  const turn = values.coturn ? await lab.startCoturn() : undefined;
  console.log(
    JSON.stringify(
      {
        runId: lab.runId,
        nat: lab.nat,
        ns: lab.ns,
        addr: lab.addr,
        dev: lab.dev,
        coturn: turn && { stun: turn.stunUrl, turn: turn.turnUrl, user: turn.user, password: turn.password },
      },
      null,
      2,
    ),
  );
  console.log(`lab ${lab.runId} is up; e.g. ip netns exec ${lab.ns.peerA} ping ${lab.addr.svc}. Ctrl-C tears it down.`);
  // Signal listeners do not keep the event loop alive; this timer does, until a signal arrives.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
  });
  clearInterval(keepAlive);
  await lab.destroy();
  console.log(`lab ${lab.runId} removed`);
}

async function down(runId: string | undefined): Promise<void> {
  if (!runId) throw new LabError(LabErrorCodes.INVALID, 'down needs a run id (see `status`)');
  const record = readRecords().find((r) => r.runId === runId);
  if (record && ownerAlive(record)) {
    // The owner tears its own lab down on SIGTERM; give it a moment, then remove whatever is left.
    process.kill(record.pid, 'SIGTERM');
    for (let i = 0; i < 50 && existsSync(recordPath(runId)); i++) await new Promise((r) => setTimeout(r, 100));
  }
  const namespaces = parseNetnsList(runCommandSync(['ip', 'netns', 'list']).stdout).filter(
    (n) => parseNetnsName(n)?.runId === runId,
  );
  const r = teardownSync(runId, [...new Set([...namespaces, ...(record?.namespaces ?? [])])], record?.sockets ?? []);
  console.log(JSON.stringify({ runId, ...r }));
}

function status(): void {
  const records = readRecords();
  const namespaces = parseNetnsList(runCommandSync(['ip', 'netns', 'list']).stdout).filter((n) => parseNetnsName(n));
  const runs = new Set([...records.map((r) => r.runId), ...namespaces.map((n) => parseNetnsName(n)!.runId)]);
  const labs = [...runs].map((runId) => {
    const rec = records.find((r) => r.runId === runId);
    return {
      runId,
      owner: rec?.pid ?? null,
      ownerAlive: rec ? ownerAlive(rec) : false,
      createdAt: rec ? new Date(rec.createdAt).toISOString() : null,
      namespaces: namespaces.filter((n) => parseNetnsName(n)!.runId === runId),
    };
  });
  console.log(JSON.stringify({ labs }, null, 2));
}

/** Hook for the smoke demo: it lives in examples/lab-demo (it needs @mesh/wg-control, which the lab must not depend on). */
async function demo(argv: string[]): Promise<void> {
  const script = fileURLToPath(new URL('../../../examples/lab-demo/dist/demo.js', import.meta.url));
  if (!existsSync(script)) {
    throw new LabError(LabErrorCodes.NOT_BUILT, `${script} is missing: build examples/lab-demo first`);
  }
  const child = spawn(process.execPath, [script, ...argv], { stdio: 'inherit' });
  const code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  process.exitCode = code;
}

export async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up':
      return up(rest);
    case 'down':
      return down(rest[0]);
    case 'cleanup':
      console.log(JSON.stringify(cleanupLeftoverLabs(), null, 2));
      return;
    case 'status':
      return status();
    case 'demo':
      return demo(rest);
    default:
      console.error(USAGE);
      process.exitCode = cmd === undefined || cmd === '--help' || cmd === '-h' ? 0 : 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
