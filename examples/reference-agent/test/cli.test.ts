import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli-spec.js';
import { type AgentStatus, ControlServer, requestDown } from '../src/index.js';
import { isWorldAccessibleFile, WORLD_ACCESSIBLE_WARNING } from '../src/keys.js';
import { type CliIo, main, USAGE } from '../src/main.js';
import { type TestIo, testIo } from './cli-io.js';
import { keyPair, validConfig } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'mesh-agent-cli-'));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string })
  .version;
const STATUS: AgentStatus = {
  self: { publicKey: keyPair().publicKey, relay: { home: null, connected: false } },
  peers: [],
};

let n = 0;
/** A fresh, empty control-socket directory (MESH_AGENT_RUN_DIR). */
const runDir = () => join(root, `run${n++}`);

type Io = TestIo & { code?: number };
const io = (env: NodeJS.ProcessEnv = {}, stdoutStat: CliIo['stdoutStat'] = () => null): Io =>
  testIo('', { env, stdoutStat });

async function run(argv: string[], env?: NodeJS.ProcessEnv): Promise<Io> {
  const r = io(env);
  r.code = await main(argv, r);
  return r;
}

/** An agent's control socket at `<dir>/<name>.sock`; `down` stops it the way the agent would. */
async function agent(dir: string, name: string, options: { down?: boolean } = {}) {
  const path = join(dir, `${name}.sock`);
  let downs = 0;
  const server: ControlServer = new ControlServer(path, {
    status: async () => STATUS,
    ...(options.down === false
      ? {}
      : {
          down: () => {
            downs++;
            void server.stop();
          },
        }),
  });
  await server.start();
  cleanups.push(() => server.stop());
  return { path, server, downs: () => downs };
}

/** A socket file nobody listens on: its process was killed before it could remove it. */
function staleSocket(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.sock`);
  const script = `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`;
  spawnSync(process.execPath, ['-e', script]);
  expect(existsSync(path)).toBe(true);
  return path;
}

describe('help and version', () => {
  it('-h, --help and help print the usage on stdout, exit 0', async () => {
    for (const argv of [['-h'], ['--help'], ['help']]) {
      expect(await run(argv)).toMatchObject({ code: 0, out: USAGE, err: '' });
    }
    expect(USAGE).toMatch(/^usage: mesh-agent COMMAND/);
    for (const c of COMMANDS) expect(USAGE).toContain(`\n  ${c.name}`);
  });

  it('every command has -h and --help (and help COMMAND): its usage and flags on stdout, exit 0', async () => {
    for (const c of COMMANDS) {
      const outs = [];
      for (const argv of [
        [c.name, '-h'],
        [c.name, '--help'],
        ['help', c.name],
      ]) {
        const r = await run(argv);
        expect(r, argv.join(' ')).toMatchObject({ code: 0, err: '' });
        expect(r.out).toMatch(new RegExp(`^usage: mesh-agent ${c.name}\\b`));
        for (const f of c.flags) expect(r.out).toContain(`--${f.name}`);
        outs.push(r.out);
      }
      expect(new Set(outs).size).toBe(1);
    }
  });

  it('the README shows the usage exactly as --help prints it', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(/## CLI\n\n```\n([\s\S]*?)```\n/.exec(readme)?.[1]).toBe(USAGE);
  });

  it('--version and version print "mesh-agent <version>" from package.json', async () => {
    for (const argv of [['--version'], ['version']]) {
      expect(await run(argv)).toMatchObject({ code: 0, out: `mesh-agent ${VERSION}\n`, err: '' });
    }
  });
});

describe('usage errors: exit 2, one line then the usage on stderr', () => {
  it.each([
    [['bogus'], 'unknown command "bogus"', USAGE],
    [['--bogus'], 'unknown flag --bogus', USAGE],
    [[], 'no command given', USAGE],
    [['status', '--bogus'], "unknown option '--bogus'", 'usage: mesh-agent status'],
    [['up', '--config'], "option '-c, --config <value>' argument missing", 'usage: mesh-agent up'],
    [['genkey', 'extra'], "unexpected argument 'extra'", 'usage: mesh-agent genkey'],
    [['status', '--json=yes'], "option '--json' does not take an argument", 'usage: mesh-agent status'],
    [['completion'], 'completion needs a shell: bash, zsh, fish', 'usage: mesh-agent completion'],
    [['completion', 'tcsh'], 'unknown shell "tcsh": bash, zsh, fish', 'usage: mesh-agent completion'],
    [['completion', 'bash', 'zsh'], 'unexpected argument "zsh"', 'usage: mesh-agent completion'],
    [['help', 'bogus'], 'unknown command "bogus"', 'usage: mesh-agent help'],
    [
      ['status', '-c', 'x.json', '-i', 'mesh0'],
      '--config and --interface exclude each other',
      'usage: mesh-agent status',
    ],
  ])('%j', async (argv, line, usage) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const [first, ...rest] = r.err.split('\n');
    expect(first).toBe(`mesh-agent: ${line}`);
    expect(rest.join('\n').startsWith(usage.split('\n')[0]!)).toBe(true);
  });
});

describe('status and down find the running agent in the run dir', () => {
  it('none: "no running mesh-agent", exit 1 (missing dir and empty dir alike)', async () => {
    const dir = runDir();
    for (const cmd of ['status', 'down']) {
      const r = await run([cmd], { MESH_AGENT_RUN_DIR: dir });
      expect(r).toMatchObject({ code: 1, out: '' });
      expect(r.err).toBe(`mesh-agent: no running mesh-agent (no live control socket in ${dir})\n`);
    }
  });

  it('one: status uses it without --config', async () => {
    const dir = runDir();
    await agent(dir, 'mesh0');
    const r = await run(['status', '--json'], { MESH_AGENT_RUN_DIR: dir });
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(r.out)).toStrictEqual(STATUS);
    expect((await run(['status'], { MESH_AGENT_RUN_DIR: dir })).out).toContain('(no peers configured)');
  });

  it('several: exit 2 naming them; --interface NAME or --config FILE picks one', async () => {
    const dir = runDir();
    await agent(dir, 'mesh0');
    const b = await agent(dir, 'mesh1');
    const env = { MESH_AGENT_RUN_DIR: dir };
    for (const cmd of ['status', 'down']) {
      const r = await run([cmd], env);
      expect(r.code).toBe(2);
      expect(r.err.split('\n')[0]).toBe(
        'mesh-agent: several mesh-agents are running (mesh0, mesh1): pick one with --interface NAME or --config FILE',
      );
      expect(r.err).toContain(`usage: mesh-agent ${cmd}`);
    }
    expect(await run(['status', '--interface', 'mesh1', '--json'], env)).toMatchObject({ code: 0, err: '' });
    const config = join(dir, 'mesh1.json');
    writeFileSync(config, JSON.stringify({ ...validConfig(), control: { socket: b.path } }));
    expect(await run(['status', '-c', config, '--json'], {})).toMatchObject({ code: 0, err: '' });
    expect(await run(['down', '-i', 'mesh1'], env)).toMatchObject({ code: 0, out: '', err: '' });
    expect(b.downs()).toBe(1);
    expect(existsSync(b.path)).toBe(false);
    expect(await run(['status', '-i', 'mesh1'], env)).toMatchObject({
      code: 1,
      err: `mesh-agent: no running mesh-agent on mesh1: no ${b.path}\n`,
    });
  });

  it('stale socket files are ignored and reported as such', async () => {
    const dir = runDir();
    const stale = staleSocket(dir, 'old0');
    const env = { MESH_AGENT_RUN_DIR: dir };
    const note = `mesh-agent: ignoring stale socket ${stale} (no agent listening)\n`;
    expect(await run(['status'], env)).toMatchObject({
      code: 1,
      err: `${note}mesh-agent: no running mesh-agent (no live control socket in ${dir})\n`,
    });
    expect(await run(['status', '-i', 'old0'], env)).toMatchObject({
      code: 1,
      err: `mesh-agent: no running mesh-agent on old0: ${stale} is stale (no agent listening)\n`,
    });
    await agent(dir, 'mesh0');
    const r = await run(['status', '--json'], env);
    expect(r).toMatchObject({ code: 0, err: note });
    expect(JSON.parse(r.out)).toStrictEqual(STATUS);
    expect(existsSync(stale)).toBe(true); // not ours to remove
  });

  it('down: the agent stops as on SIGTERM; down returns once it is gone', async () => {
    const dir = runDir();
    const a = await agent(dir, 'mesh0');
    expect(await run(['down'], { MESH_AGENT_RUN_DIR: dir })).toMatchObject({ code: 0, out: '', err: '' });
    expect(a.downs()).toBe(1);
    expect(existsSync(a.path)).toBe(false);
  });

  it('down: an agent that does not accept it, or does not go away in time, is an error (exit 1)', async () => {
    const dir = runDir();
    await agent(dir, 'mesh0', { down: false });
    const r = await run(['down'], { MESH_AGENT_RUN_DIR: dir });
    expect(r.code).toBe(1);
    expect(r.err).toContain('the agent refused: ERR_AGENT_CONTROL: this agent cannot be stopped over its socket');
    const stuck = new ControlServer(join(dir, 'stuck.sock'), { status: async () => STATUS, down: () => {} });
    await stuck.start();
    cleanups.push(() => stuck.stop());
    await expect(requestDown(stuck.path, { waitMs: 300, pollMs: 20 })).rejects.toMatchObject({
      code: 'ERR_AGENT_CONTROL',
      message: 'the agent is still stopping after 300 ms',
    });
  });

  it('down waits for another process to exit, not only for its socket to go', async () => {
    const path = join(runDir(), 'proc.sock');
    const script = `
      const fs = require('node:fs');
      fs.mkdirSync(require('node:path').dirname(${JSON.stringify(path)}), { recursive: true });
      const server = require('node:net').createServer((s) => s.once('data', () => {
        s.end(JSON.stringify({ ok: true, stopping: true, pid: process.pid }) + '\\n', () => {
          server.close();
          setTimeout(() => process.exit(0), 400); // the rest of a clean stop, after the socket is gone
        });
      }));
      server.listen(${JSON.stringify(path)}, () => console.log('ready'));`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => void child.kill('SIGKILL'));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    await requestDown(path, { pollMs: 20 });
    expect(exited).toBe(true);
  });
});

describe('completion', () => {
  const which = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`]).status === 0;

  it.each(['bash', 'zsh', 'fish'])(
    '%s: a script naming every command and flag (syntax-checked when the shell is here)',
    async (shell) => {
      const r = await run(['completion', shell]);
      expect(r).toMatchObject({ code: 0, err: '' });
      expect(r.out.length).toBeGreaterThan(200);
      for (const c of COMMANDS) {
        expect(r.out).toContain(c.name);
        for (const f of c.flags) expect(r.out).toContain(shell === 'fish' ? `-l ${f.name}` : `--${f.name}`);
      }
      if (shell === 'bash' || which(shell)) {
        const check = spawnSync(shell, shell === 'fish' ? ['--no-execute'] : ['-n'], {
          input: r.out,
          encoding: 'utf8',
        });
        expect(check.stderr).toBe('');
        expect(check.status).toBe(0);
      }
    },
  );

  it('bash: completes commands, flags, shells and interface names', async () => {
    const script = (await run(['completion', 'bash'])).out;
    const dir = runDir();
    await agent(dir, 'mesh7');
    const complete = (...words: string[]) =>
      spawnSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _mesh_agent; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8', env: { ...process.env, MESH_AGENT_RUN_DIR: dir } },
      ).stdout.trim();
    expect(complete('mesh-agent', 'st')).toBe('status');
    expect(complete('mesh-agent', 'd')).toBe('down');
    expect(complete('mesh-agent', 'status', '--j')).toBe('--json');
    expect(complete('mesh-agent', 'completion', 'z')).toBe('zsh');
    expect(complete('mesh-agent', 'down', '--interface', '')).toBe('mesh7');
  });
});

describe('genkey warns like wg genkey about a file others can read', () => {
  const genkey = async (stat: ReturnType<NonNullable<CliIo['stdoutStat']>>) => {
    const r = io({}, () => stat);
    r.code = await main(['genkey'], r);
    return r;
  };
  const file = (mode: number) => ({ isFile: () => true, mode: 0o100000 | mode });

  it('a regular file with permissions for others: the warning on stderr, the key still on stdout', async () => {
    const r = await genkey(file(0o644));
    expect(r.code).toBe(0);
    expect(r.err).toBe(
      'Warning: writing to world accessible file.\nConsider setting the umask to 077 and trying again.\n',
    );
    expect(r.out).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
  });

  it('no warning for a private file, a pipe or a terminal', async () => {
    for (const stat of [file(0o600), file(0o640), { isFile: () => false, mode: 0o010666 }, null]) {
      expect((await genkey(stat)).err).toBe('');
    }
  });

  it('the check works on a real fstat', () => {
    const path = join(root, 'key');
    for (const [mode, warn] of [
      [0o644, true],
      [0o600, false],
    ] as const) {
      rmSync(path, { force: true });
      const fd = openSync(path, 'w');
      try {
        fchmodSync(fd, mode);
        expect(isWorldAccessibleFile(fstatSync(fd))).toBe(warn);
      } finally {
        closeSync(fd);
      }
    }
    expect(WORLD_ACCESSIBLE_WARNING).toMatch(/umask to 077/);
  });
});
