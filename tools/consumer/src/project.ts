import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The workspace root (this file is tools/consumer/src/project.ts). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface PublishedPackage {
  name: string;
  version: string;
  dir: string;
}

/** Every package under packages/ that is not private: what `npm publish` would publish. */
export function publishedPackages(): PublishedPackage[] {
  const out: PublishedPackage[] = [];
  for (const entry of readdirSync(join(ROOT, 'packages'), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(ROOT, 'packages', entry.name);
    let pkg: { name: string; version: string; private?: boolean };
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    } catch {
      continue;
    }
    if (!pkg.private) out.push({ name: pkg.name, version: pkg.version, dir });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** Runs a command with a deadline; rejects with its output on a non-zero exit. */
export async function sh(
  cmd: string,
  args: readonly string[],
  options: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(cmd, [...args], {
      cwd: options.cwd,
      timeout: options.timeoutMs ?? 120_000,
      maxBuffer: 64 << 20,
      env: options.env ?? process.env,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** `npm pack` of every published package (built `dist` required) into `dest`; name → tarball path. */
export async function packAll(dest: string): Promise<Map<string, string>> {
  const tarballs = new Map<string, string>();
  for (const pkg of publishedPackages()) {
    const { stdout } = await sh('npm', ['pack', '--json', '--pack-destination', dest], { cwd: pkg.dir });
    const [info] = JSON.parse(stdout) as { filename: string }[];
    if (!info) throw new Error(`npm pack of ${pkg.name} printed nothing`);
    tarballs.set(pkg.name, join(dest, info.filename));
  }
  return tarballs;
}

/** The version of a tool the workspace itself uses (so the stranger's TypeScript is the one we test with). */
function workspaceVersion(name: string): string {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const range = root.devDependencies?.[name];
  if (!range) throw new Error(`the workspace does not use ${name}`);
  return range;
}

/** The README's "Build your own agent" block, exactly as a reader copies it. */
export function readmeAgentSource(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- core-loop:start -->\n```ts\n([\s\S]*?)```\n<!-- core-loop:end -->/.exec(readme)?.[1];
  if (!block) throw new Error('README.md has no core-loop block');
  return block;
}

export interface ConsumerProject {
  dir: string;
  tarballs: Map<string, string>;
  /** Removes the project and the tarballs. Idempotent. */
  remove(): void;
}

/**
 * A fresh project outside the workspace that depends on every tarball (and nothing else of ours),
 * with strict TypeScript (`nodenext`, `skipLibCheck: false`), and `files` written under `src/`.
 */
export async function createConsumerProject(files: Record<string, string>): Promise<ConsumerProject> {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-consumer-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const packs = join(dir, 'tarballs');
    mkdirSync(packs);
    const tarballs = await packAll(packs);
    const deps = Object.fromEntries([...tarballs].map(([name, file]) => [name, `file:${file}`]));
    const pkg = {
      name: 'mesh-consumer',
      private: true,
      type: 'module',
      dependencies: deps,
      // Internal dependencies of the tarballs resolve to the tarballs too, never to a registry copy.
      overrides: deps,
      devDependencies: { typescript: workspaceVersion('typescript'), '@types/node': workspaceVersion('@types/node') },
    };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    const compilerOptions = {
      strict: true,
      module: 'nodenext',
      moduleResolution: 'nodenext',
      target: 'es2023',
      lib: ['es2023'],
      types: ['node'],
      skipLibCheck: false,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      rootDir: 'src',
      outDir: 'dist',
    };
    writeFileSync(join(dir, 'tsconfig.json'), `${JSON.stringify({ compilerOptions, include: ['src'] }, null, 2)}\n`);
    mkdirSync(join(dir, 'src'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'src', name), text);
    await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], {
      cwd: dir,
      timeoutMs: 300_000,
    });
    return { dir, tarballs, remove };
  } catch (err) {
    remove();
    throw err;
  }
}
