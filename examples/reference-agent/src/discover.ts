import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ControlError, UsageError } from './errors.js';
import { probeSocket } from './unix-socket.js';

export interface FindAgentOptions {
  /** The control-socket directory (`runDir()`). */
  dir: string;
  /** `--interface NAME`: that agent's socket, `<dir>/<NAME>.sock`. */
  interface?: string;
  /** The command asking, for the usage printed with a usage error. */
  command?: string;
  /** Told about every socket file nobody listens on (skipped). */
  onStale?(path: string): void;
}

const live = (state: string) => state === 'live' || state === 'denied';

/**
 * The control socket of the running agent, as `status` and `down` find it without `--config`:
 * the only live `*.sock` in `dir` (or the one `interface` names). Several live ones → UsageError
 * naming them; none → ControlError "no running mesh-agent". Stale files are skipped and reported.
 */
export async function findAgentSocket(o: FindAgentOptions): Promise<string> {
  if (o.interface !== undefined) {
    if (o.interface === '' || o.interface.includes('/')) {
      throw new UsageError(`invalid interface name ${JSON.stringify(o.interface)}`, o.command);
    }
    const path = join(o.dir, `${o.interface}.sock`);
    const state = await probeSocket(path);
    if (live(state)) return path;
    const why = state === 'stale' ? `${path} is stale (no agent listening)` : `no ${path}`;
    throw new ControlError(`no running mesh-agent on ${o.interface}: ${why}`);
  }
  let names: string[];
  try {
    names = readdirSync(o.dir).filter((n) => n.endsWith('.sock'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new ControlError(`cannot list ${o.dir} (${code}): run as root?`, { cause: err });
    names = [];
  }
  const paths = names.sort().map((n) => join(o.dir, n));
  const states = await Promise.all(paths.map(probeSocket));
  for (const [i, s] of states.entries()) if (s === 'stale') o.onStale?.(paths[i]!);
  const found = paths.filter((_, i) => live(states[i]!));
  if (found.length === 1) return found[0]!;
  if (found.length === 0) throw new ControlError(`no running mesh-agent (no live control socket in ${o.dir})`);
  const list = found.map((p) => basename(p, '.sock')).join(', ');
  throw new UsageError(
    `several mesh-agents are running (${list}): pick one with --interface NAME or --config FILE`,
    o.command,
  );
}
