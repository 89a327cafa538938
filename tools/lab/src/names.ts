import { randomInt } from 'node:crypto';
import { LabError, LabErrorCodes } from './errors.js';

/** The namespaces of one lab (ARCHITECTURE §6). */
export const ROLES = ['peerA', 'natA', 'inet', 'natB', 'peerB', 'svc'] as const;
export type Role = (typeof ROLES)[number];
export type NatRole = 'natA' | 'natB';
export type PeerRole = 'peerA' | 'peerB';

const RUN_ID_RE = /^[a-z0-9]{1,8}$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** `m<runid>-<role>`: the prefix is how leftovers of crashed runs are found. */
const NETNS_RE = /^m([a-z0-9]{1,8})-(peerA|natA|inet|natB|peerB|svc)$/;

/** A fresh run id: 6 characters of [a-z0-9] from node:crypto. */
export function newRunId(): string {
  let id = '';
  for (let i = 0; i < 6; i++) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
}

export function assertRunId(runId: string): void {
  if (!RUN_ID_RE.test(runId)) {
    throw new LabError(LabErrorCodes.INVALID, `run id must match ${RUN_ID_RE} (got '${runId}')`);
  }
}

export function netnsName(runId: string, role: Role): string {
  return `m${runId}-${role}`;
}

export function namespaceNames(runId: string): Record<Role, string> {
  return Object.fromEntries(ROLES.map((r) => [r, netnsName(runId, r)])) as Record<Role, string>;
}

/** Parses a namespace name of ours into run id and role; `undefined` for anyone else's namespace. */
export function parseNetnsName(name: string): { runId: string; role: Role } | undefined {
  const m = NETNS_RE.exec(name);
  return m ? { runId: m[1]!, role: m[2] as Role } : undefined;
}

/** Names from `ip netns list` output (`name (id: 3)` or bare `name` per line). */
export function parseNetnsList(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

/**
 * Default wireguard-go interface name: `ml<runid>_<n>`. Interface names are global to the shared mount
 * namespace's /var/run/wireguard/, so they carry the run id; IFNAMSIZ allows 15 characters.
 */
export function wgIfname(runId: string, index: number): string {
  const name = `ml${runId}_${index}`;
  assertIfname(name);
  return name;
}

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
export function assertIfname(name: string): void {
  if (!IFNAME_RE.test(name)) {
    throw new LabError(LabErrorCodes.INVALID, `interface name must be 1-15 of [A-Za-z0-9_.-] (got '${name}')`);
  }
}

/** Run id of a default wireguard-go socket name (`ml<runid>_<n>.sock`), or undefined. */
export function parseWgSocketName(file: string): string | undefined {
  const m = /^ml([a-z0-9]{1,8})_\d+\.sock$/.exec(file);
  return m ? m[1] : undefined;
}
