import { randomInt } from 'node:crypto';
import { LabError, LabErrorCodes } from './errors.js';

/** The namespaces every lab has (ARCHITECTURE §6). */
export const ROLES = ['peerA', 'natA', 'inet', 'natB', 'peerB', 'svc'] as const;
/** Namespaces a lab has only when built with them: natC is the NAT of peerA's second uplink (`uplinks: 2`). */
export const OPTIONAL_ROLES = ['natC'] as const;
/** A namespace every lab has. */
export type BaseRole = (typeof ROLES)[number];
/** A namespace only some labs have (see OPTIONAL_ROLES). */
export type OptionalRole = (typeof OPTIONAL_ROLES)[number];
/** Any namespace of a lab. */
export type Role = BaseRole | OptionalRole;
/** The NAT namespaces. */
export type NatRole = 'natA' | 'natB' | 'natC';
/** The peer namespaces. */
export type PeerRole = 'peerA' | 'peerB';
/** One lab's namespace names: every base role, plus the optional roles it was built with. */
export type LabNamespaces = Record<BaseRole, string> & Partial<Record<OptionalRole, string>>;

const RUN_ID_RE = /^[a-z0-9]{1,8}$/;
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
/** `m<runid>-<role>`: the prefix is how leftovers of crashed runs are found. */
const NETNS_RE = new RegExp(`^m([a-z0-9]{1,8})-(${[...ROLES, ...OPTIONAL_ROLES].join('|')})$`);

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

/** The names of a lab's namespaces: the base roles and the given optional ones. */
export function namespaceNames(runId: string, optional: readonly OptionalRole[] = []): LabNamespaces {
  return Object.fromEntries([...ROLES, ...optional].map((r) => [r, netnsName(runId, r)])) as LabNamespaces;
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
