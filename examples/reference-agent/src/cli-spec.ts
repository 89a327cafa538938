import { DEFAULT_RUN_DIR } from './control.js';

/** The `mesh-agent` command line as data: help texts, flag parsing and completion scripts come from it. */

export interface FlagSpec {
  name: string;
  short?: string;
  /** The value's placeholder (FILE, NAME); absent = a boolean flag. */
  value?: 'FILE' | 'NAME';
  help: string;
}

export interface CommandSpec {
  name: string;
  /** The synopsis after the command name. */
  args: string;
  summary: string;
  flags: FlagSpec[];
  /** The one positional argument the command takes, with its completions. */
  positional?: { name: string; choices: readonly string[]; required: boolean };
  /** More text for `mesh-agent COMMAND --help`. */
  details?: string;
}

export const SHELLS = ['bash', 'zsh', 'fish'] as const;

export const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', help: 'print this help and exit' };
const CONFIG: FlagSpec = { name: 'config', short: 'c', value: 'FILE', help: 'the agent config file (JSON)' };
const FIND_CONFIG: FlagSpec = { ...CONFIG, help: 'find the agent by control.socket of this config file' };
const INTERFACE: FlagSpec = {
  name: 'interface',
  short: 'i',
  value: 'NAME',
  help: 'the agent of interface NAME (its socket is RUN_DIR/NAME.sock)',
};

const FINDING = `The agent is found by its control socket in RUN_DIR ($MESH_AGENT_RUN_DIR, default
${DEFAULT_RUN_DIR}): the only live one there, or --interface NAME, or --config FILE. Several
live agents and neither flag: exit 2. None: "no running mesh-agent", exit 1. Stale socket files
(nobody listening) are ignored, with a note on stderr.`;

const COMMAND_NAMES = ['genkey', 'pubkey', 'up', 'down', 'status', 'version', 'completion', 'help'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export const COMMANDS: readonly (CommandSpec & { name: CommandName })[] = [
  {
    name: 'genkey',
    args: '',
    summary: 'print a new private key (as wg genkey)',
    flags: [],
    details: 'Warns on stderr, as wg genkey does, when stdout is a file other users can read:\nrun it under umask 077.',
  },
  { name: 'pubkey', args: '< private.key', summary: 'print the public key of the private key on stdin', flags: [] },
  {
    name: 'up',
    args: '--config FILE',
    summary: 'run the agent (SIGINT, SIGTERM or down: clean stop)',
    flags: [CONFIG],
    details: 'Runs in the foreground until SIGINT/SIGTERM or `mesh-agent down`, then removes what it set up.',
  },
  {
    name: 'down',
    args: '[-i NAME | -c FILE]',
    summary: 'stop the running agent cleanly and wait for it to exit',
    flags: [INTERFACE, FIND_CONFIG],
    details: `The agent stops as on SIGTERM; down waits (up to 10 s) until it is gone.\n${FINDING}`,
  },
  {
    name: 'status',
    args: '[-i NAME | -c FILE] [--json]',
    summary: 'ask the running agent for its peers and paths',
    flags: [INTERFACE, FIND_CONFIG, { name: 'json', help: 'print the stable JSON shape (see README)' }],
    details: FINDING,
  },
  { name: 'version', args: '', summary: 'print the version', flags: [] },
  {
    name: 'completion',
    args: SHELLS.join('|'),
    summary: 'print a shell completion script',
    flags: [],
    positional: { name: 'SHELL', choices: SHELLS, required: true },
    details: `bash: source <(mesh-agent completion bash)
zsh:  mesh-agent completion zsh > "\${fpath[1]}/_mesh-agent"
fish: mesh-agent completion fish > ~/.config/fish/completions/mesh-agent.fish`,
  },
  {
    name: 'help',
    args: '[COMMAND]',
    summary: 'print help (also: mesh-agent COMMAND --help)',
    flags: [],
    positional: { name: 'COMMAND', choices: COMMAND_NAMES, required: false },
  },
];

export function commandSpec(name: string): (CommandSpec & { name: CommandName }) | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The flags a command accepts, `--help` included. */
export function flagsOf(spec: CommandSpec): FlagSpec[] {
  return [...spec.flags, HELP_FLAG];
}

const column = (rows: [string, string][]) => {
  const width = Math.max(...rows.map(([left]) => left.length)) + 3;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`.trimEnd()).join('\n');
};

/** `mesh-agent --help`. */
export function topUsage(): string {
  const rows = COMMANDS.map((c): [string, string] => [`${c.name} ${c.args}`.trim(), c.summary]);
  return `usage: mesh-agent COMMAND [flags]

commands:
${column(rows)}

flags:
${column([
  ['-h, --help', 'print this help and exit'],
  ['--version', 'print the version and exit'],
])}

exit codes: 0 ok, 1 failure, 2 usage or config error
`;
}

/** `mesh-agent COMMAND --help`. */
export function commandUsage(spec: CommandSpec): string {
  const flags = flagsOf(spec).map((f): [string, string] => [
    `${f.short ? `-${f.short}, ` : '    '}--${f.name}${f.value ? ` ${f.value}` : ''}`,
    f.help,
  ]);
  const details = spec.details ? `\n${spec.details}\n` : '';
  return `usage: mesh-agent ${`${spec.name} ${spec.args}`.trim()}

${spec.summary}
${details}
flags:
${column(flags)}
`;
}
