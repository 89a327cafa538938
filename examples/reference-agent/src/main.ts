import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { hasCode, JsonLinesLogger, toError } from '@mesh/core';
import { runAgent } from './agent.js';
import {
  type CommandName,
  type CommandSpec,
  commandSpec,
  commandUsage,
  flagsOf,
  SHELLS,
  topUsage,
} from './cli-spec.js';
import { completionScript } from './completion.js';
import { loadConfig } from './config.js';
import { requestDown, requestStatus, runDir } from './control.js';
import { findAgentSocket } from './discover.js';
import { UsageError } from './errors.js';
import { genkey, isWorldAccessibleFile, pubkey, WORLD_ACCESSIBLE_WARNING } from './keys.js';
import { formatStatusTable } from './status.js';

export const USAGE = topUsage();

type StopReason = 'SIGINT' | 'SIGTERM' | 'fatal';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<string>;
  /** Resolves on the first SIGINT/SIGTERM, or on an uncaught error (`fatal`), for `up`. */
  untilStop(): Promise<{ reason: StopReason; error?: Error }>;
  /** `fstat` of stdout, for genkey's warning about a file others can read; absent or null = unknown. */
  stdoutStat?(): { isFile(): boolean; mode: number } | null;
  /** The environment (`MESH_AGENT_RUN_DIR`); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** `mesh-agent 0.1.0`: the version in this package's package.json, read next to the built file. */
export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return `mesh-agent ${pkg.version}\n`;
}

/** Runs one command; resolves with the exit code. Never throws. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  try {
    return await command(argv, io);
  } catch (err) {
    const e = toError(err);
    if (hasCode(e, 'ERR_AGENT_USAGE')) {
      const spec = commandSpec((e as UsageError).command ?? '');
      io.stderr(`mesh-agent: ${e.message}\n${spec ? commandUsage(spec) : USAGE}`);
      return 2;
    }
    if (hasCode(e, 'ERR_AGENT_CONFIG')) {
      io.stderr(`mesh-agent: config error: ${e.message}\n`);
      return 2;
    }
    io.stderr(`mesh-agent: ${e.message}\n`);
    return 1;
  }
}

type Values = { config?: string; interface?: string; json?: boolean; help?: boolean };
type Run = (values: Values, arg: string | undefined, io: CliIo) => Promise<number>;

async function command(argv: string[], io: CliIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '-h' || first === '--help') return print(io, USAGE);
  if (first === '--version') return print(io, versionLine());
  if (first === undefined) throw new UsageError('no command given');
  const spec = commandSpec(first);
  if (!spec)
    throw new UsageError(first.startsWith('-') ? `unknown flag ${first}` : `unknown command ${JSON.stringify(first)}`);
  const { values, arg } = parse(spec, rest);
  if (values.help) return print(io, commandUsage(spec));
  return COMMAND_RUNS[spec.name](values, arg, io);
}

function print(io: CliIo, text: string): number {
  io.stdout(text);
  return 0;
}

/** parseArgs' first sentence ("Unknown option '--x'"), as a one-line usage error. */
const oneLine = (message: string) => {
  const first = message.split('. ')[0]!;
  return first.charAt(0).toLowerCase() + first.slice(1);
};

function parse(spec: CommandSpec, args: string[]): { values: Values; arg: string | undefined } {
  const options = Object.fromEntries(
    flagsOf(spec).map((f) => [
      f.name,
      { type: f.value ? ('string' as const) : ('boolean' as const), ...(f.short ? { short: f.short } : {}) },
    ]),
  );
  let parsed: { values: Values; positionals: string[] };
  try {
    const r = parseArgs({ args, options, allowPositionals: spec.positional !== undefined, strict: true });
    parsed = { values: r.values as Values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError(oneLine(toError(err).message), spec.name);
  }
  const [arg, extra] = parsed.positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`, spec.name);
  return { values: parsed.values, arg };
}

/** The socket of the agent `status`/`down` talk to: --config's control.socket, or found in the run dir. */
function agentSocket(cmd: string, values: Values, io: CliIo): Promise<string> | string {
  if (values.config !== undefined && values.interface !== undefined) {
    throw new UsageError('--config and --interface exclude each other', cmd);
  }
  if (values.config !== undefined) return loadConfig(values.config).control.socket;
  return findAgentSocket({
    dir: runDir(io.env),
    interface: values.interface,
    command: cmd,
    onStale: (path) => io.stderr(`mesh-agent: ignoring stale socket ${path} (no agent listening)\n`),
  });
}

const COMMAND_RUNS: Record<CommandName, Run> = {
  genkey: async (_values, _arg, io) => {
    if (isWorldAccessibleFile(io.stdoutStat?.() ?? null)) io.stderr(WORLD_ACCESSIBLE_WARNING);
    return print(io, genkey());
  },
  pubkey: async (_values, _arg, io) => print(io, pubkey(await io.readStdin())),
  up: async (values, _arg, io) => {
    if (values.config === undefined) throw new UsageError('up needs --config FILE', 'up');
    const config = loadConfig(values.config);
    const log = new JsonLinesLogger({ level: config.tuning.logLevel });
    let downRequested!: () => void;
    const down = new Promise<{ reason: 'down'; error?: undefined }>((resolve) => {
      downRequested = () => resolve({ reason: 'down' });
    });
    // Listening before anything exists: a stop during start-up waits for it.
    const stop = Promise.race([io.untilStop(), down]);
    const agent = await runAgent(config, { logger: log, onStopRequest: downRequested });
    const { reason, error } = await stop;
    if (error) log.error('agent-fatal', { error });
    log.info('agent-stopping', { reason });
    await agent.stop();
    return reason === 'fatal' ? 1 : 0;
  },
  down: async (values, _arg, io) => {
    await requestDown(await agentSocket('down', values, io));
    return 0;
  },
  status: async (values, _arg, io) => {
    const status = await requestStatus(await agentSocket('status', values, io));
    return print(io, values.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatusTable(status, Date.now()));
  },
  version: async (_values, _arg, io) => print(io, versionLine()),
  completion: async (_values, shell, io) => {
    const known = SHELLS.find((s) => s === shell);
    if (!known) {
      const what = shell === undefined ? 'completion needs a shell' : `unknown shell ${JSON.stringify(shell)}`;
      throw new UsageError(`${what}: ${SHELLS.join(', ')}`, 'completion');
    }
    return print(io, completionScript(known));
  },
  help: async (_values, name, io) => {
    if (name === undefined) return print(io, USAGE);
    const spec = commandSpec(name);
    if (!spec) throw new UsageError(`unknown command ${JSON.stringify(name)}`, 'help');
    return print(io, commandUsage(spec));
  },
};
