import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Logger, silentLogger } from '@mesh/core';
import { runCommandSync } from './exec.js';
import { parseNetnsList, parseNetnsName, parseWgSocketName } from './names.js';

/** Where each live lab records its owner; a lab whose owner is dead is a leftover. */
export const REGISTRY_DIR = '/run/mesh-lab';
export const WG_SOCKET_DIR = '/var/run/wireguard';
/** A namespace of ours without a registry record is only a leftover once it is this old (never a lab being built). */
export const ORPHAN_MIN_AGE_MS = 60_000;

export interface LabRecord {
  runId: string;
  pid: number;
  /** /proc/<pid>/stat start time: a reused pid is not the owner. */
  pidStart: string | null;
  createdAt: number;
  namespaces: string[];
  /** UAPI socket files this lab's wireguard-go processes own. */
  sockets: string[];
}

export function recordPath(runId: string): string {
  return join(REGISTRY_DIR, `${runId}.json`);
}

/** Scratch directory of one lab (coturn's pid file and database live here). */
export function runDir(runId: string): string {
  return join(REGISTRY_DIR, runId);
}

/** Field 22 (starttime) of /proc/<pid>/stat, or null if the process does not exist. */
export function procStartTime(pid: number): string | null {
  try {
    return parseProcStatStart(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** The comm field may contain spaces and parentheses: fields are counted after the last ')'. */
export function parseProcStatStart(stat: string): string | null {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field 22 is rest[19].
  return rest[19] ?? null;
}

export function ownerAlive(record: Pick<LabRecord, 'pid' | 'pidStart'>, startOf = procStartTime): boolean {
  const now = startOf(record.pid);
  return now !== null && (record.pidStart === null || now === record.pidStart);
}

export function writeRecord(record: LabRecord): void {
  mkdirSync(REGISTRY_DIR, { recursive: true });
  const file = recordPath(record.runId);
  writeFileSync(`${file}.tmp`, JSON.stringify(record));
  renameSync(`${file}.tmp`, file); // readers never see half a record
}

export function readRecords(): LabRecord[] {
  let files: string[];
  try {
    files = readdirSync(REGISTRY_DIR).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const out: LabRecord[] = [];
  for (const f of files) {
    try {
      const r = JSON.parse(readFileSync(join(REGISTRY_DIR, f), 'utf8')) as LabRecord;
      if (typeof r.runId === 'string' && typeof r.pid === 'number') out.push(r);
    } catch {
      // a malformed record is ignored; its namespaces are then judged by age alone
    }
  }
  return out;
}

export interface LeftoverLab {
  runId: string;
  record: LabRecord | undefined;
  namespaces: string[];
  sockets: string[];
  /** Why it counts as a leftover. */
  reason: 'owner-dead' | 'no-record';
}

export interface LabState {
  records: LabRecord[];
  /** Our namespaces (by name) with their age in ms. */
  namespaces: { name: string; ageMs: number }[];
  /** File names in /var/run/wireguard. */
  socketFiles: string[];
}

/**
 * Pure part of leftover detection: which labs are dead. A lab is a leftover when its record's owner
 * is dead, or when it has namespaces/sockets but no record and its namespaces are older than
 * ORPHAN_MIN_AGE_MS. A lab whose owner lives is never touched.
 */
export function findLeftovers(state: LabState, alive: (r: LabRecord) => boolean = ownerAlive): LeftoverLab[] {
  const byRun = new Map<string, LeftoverLab & { minAge: number }>();
  const entry = (runId: string) => {
    let e = byRun.get(runId);
    if (!e) {
      e = {
        runId,
        record: undefined,
        namespaces: [],
        sockets: [],
        reason: 'no-record',
        minAge: Number.POSITIVE_INFINITY,
      };
      byRun.set(runId, e);
    }
    return e;
  };
  for (const r of state.records) {
    const e = entry(r.runId);
    e.record = r;
    e.reason = 'owner-dead';
  }
  for (const ns of state.namespaces) {
    const parsed = parseNetnsName(ns.name);
    if (!parsed) continue;
    const e = entry(parsed.runId);
    e.namespaces.push(ns.name);
    e.minAge = Math.min(e.minAge, ns.ageMs);
  }
  for (const f of state.socketFiles) {
    const runId = parseWgSocketName(f);
    if (runId) entry(runId).sockets.push(join(WG_SOCKET_DIR, f));
  }
  const out: LeftoverLab[] = [];
  for (const e of byRun.values()) {
    if (e.record) {
      if (alive(e.record)) continue;
      for (const s of e.record.sockets) if (!e.sockets.includes(s)) e.sockets.push(s);
      for (const n of e.record.namespaces) if (!e.namespaces.includes(n)) e.namespaces.push(n);
    } else if (e.minAge < ORPHAN_MIN_AGE_MS) {
      continue; // maybe a lab being built by a process that has not written its record yet
    }
    const { minAge: _, ...lab } = e;
    out.push(lab);
  }
  return out;
}

/** Reads the machine's lab state: records, our namespaces (with age), wireguard socket files. */
export function readLabState(now = Date.now()): LabState {
  const list = runCommandSync(['ip', 'netns', 'list']);
  const namespaces = parseNetnsList(list.stdout)
    .filter((n) => parseNetnsName(n) !== undefined)
    .map((name) => {
      let ageMs = Number.POSITIVE_INFINITY;
      try {
        ageMs = now - statSync(`/run/netns/${name}`).mtimeMs;
      } catch {
        // no mount file: treat as old
      }
      return { name, ageMs };
    });
  let socketFiles: string[] = [];
  try {
    socketFiles = readdirSync(WG_SOCKET_DIR);
  } catch {
    // no wireguard-go has ever run here
  }
  return { records: readRecords(), namespaces, socketFiles };
}

export interface TeardownResult {
  killed: number[];
  namespaces: string[];
  sockets: string[];
}

/**
 * Removes a lab completely: SIGKILLs every process inside its namespaces (a process keeps a
 * deleted namespace alive), deletes the namespaces, socket files, scratch dir and record.
 * Synchronous on purpose: it also runs from process 'exit' handlers, where no event loop is left.
 */
export function teardownSync(runId: string, namespaces: readonly string[], sockets: readonly string[]): TeardownResult {
  const result: TeardownResult = { killed: [], namespaces: [], sockets: [] };
  const existing = new Set(parseNetnsList(runCommandSync(['ip', 'netns', 'list']).stdout));
  for (const ns of namespaces) {
    if (!existing.has(ns)) continue;
    const pids = runCommandSync(['ip', 'netns', 'pids', ns]).stdout.split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
        result.killed.push(pid);
      } catch {
        // already gone
      }
    }
    if (runCommandSync(['ip', 'netns', 'del', ns]).code === 0) result.namespaces.push(ns);
  }
  for (const s of sockets) {
    try {
      unlinkSync(s);
      result.sockets.push(s);
    } catch {
      // wireguard-go removed it on SIGTERM, or it never existed
    }
  }
  rmSync(runDir(runId), { recursive: true, force: true });
  rmSync(recordPath(runId), { force: true });
  return result;
}

export interface CleanupReport {
  labs: { runId: string; reason: LeftoverLab['reason']; killed: number[]; namespaces: string[]; sockets: string[] }[];
}

/**
 * Finds and removes the namespaces, processes and socket files of labs whose owner process is dead
 * (crashed or killed runs). Labs of live processes — a parallel test run — are never touched.
 */
export function cleanupLeftoverLabs(options: { logger?: Logger } = {}): CleanupReport {
  const log = options.logger ?? silentLogger;
  const report: CleanupReport = { labs: [] };
  for (const lab of findLeftovers(readLabState())) {
    const r = teardownSync(lab.runId, lab.namespaces, lab.sockets);
    log.info('lab-leftover-removed', { runId: lab.runId, reason: lab.reason, ...r });
    report.labs.push({ runId: lab.runId, reason: lab.reason, ...r });
  }
  return report;
}
