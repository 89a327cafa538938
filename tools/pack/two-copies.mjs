#!/usr/bin/env node
// Two copies of @mesh/core in one dependency tree, from outside the workspace.
//
// Packs the built packages (run the build first), packs @mesh/core again as 0.1.1, and serves
// both through a throwaway local registry for the @mesh scope only, so the install resolves
// version ranges the way it will against npm. A fresh project under os.tmpdir() then depends on
// @mesh/core 0.1.1, on every other package at 0.1.0 and on `other-lib`, a stand-in library that
// pins @mesh/core 0.1.0: the tree holds both versions whatever the packages' ranges say. It must
//   - typecheck (strict, nodenext, skipLibCheck false) code that hands the app's PeerKey to
//     peer-conn and wg-control and swaps PeerKeys between the two copies, and
//   - at run time, turn the other copy's PeerKey into this copy's with `PeerKey.from`.
// Prints one result line; exits 1 on failure. Every temporary directory goes, even on failure.
//
//   node tools/pack/two-copies.mjs [--packages-dir DIR] [--keep]

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const flag = (name) => args.indexOf(name);
const packagesDir = flag('--packages-dir') >= 0 ? resolve(args[flag('--packages-dir') + 1]) : join(repo, 'packages');
const keep = flag('--keep') >= 0;
const PACKAGES = [
  'core',
  'wg-control',
  'relay-client',
  'relay-manager',
  'relay-server',
  'ice-worker',
  'peer-conn',
  'net-monitor',
];
const KEY = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const NAME = 'two-copies';

const work = mkdtempSync(join(tmpdir(), 'mesh-two-copies-'));
const cleanup = () => {
  if (!keep) rmSync(work, { recursive: true, force: true });
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanup();
    process.exit(130);
  });
}

class Failure extends Error {}

/** Runs a command without blocking the event loop (the registry below answers from it). */
function run(cmd, argv, cwd) {
  return new Promise((done, fail) => {
    execFile(cmd, argv, { cwd, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) fail(new Failure(`${cmd} ${argv.join(' ')} (in ${cwd}) failed:\n${stdout}${stderr}`));
      else done(stdout);
    });
  });
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const writeJson = (file, value) => writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);

async function pack(dir, into) {
  const [info] = JSON.parse(await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', into], dir));
  return join(into, info.filename);
}

/** A registry for the @mesh scope: packuments and tarballs, nothing else. */
async function startRegistry(tarballs) {
  const prefix = `/${randomBytes(6).toString('hex')}`; // a fresh URL each run: no stale npm cache
  const docs = new Map();
  const files = new Map();
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '').slice(prefix.length + 1);
    const body = path.startsWith('-/') ? files.get(path.slice(2)) : docs.get(path);
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': path.startsWith('-/') ? 'application/octet-stream' : 'application/json' });
    res.end(body);
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  const base = `http://127.0.0.1:${server.address().port}${prefix}/`;
  for (const { manifest, file } of tarballs) {
    const data = readFileSync(file);
    const name = `${manifest.name.replace('/', '-').replace('@', '')}-${manifest.version}.tgz`;
    files.set(name, data);
    const doc = docs.has(manifest.name)
      ? JSON.parse(docs.get(manifest.name))
      : { name: manifest.name, 'dist-tags': {}, versions: {} };
    doc.versions[manifest.version] = {
      ...manifest,
      dist: {
        tarball: `${base}-/${name}`,
        integrity: `sha512-${createHash('sha512').update(data).digest('base64')}`,
        shasum: createHash('sha1').update(data).digest('hex'),
      },
    };
    const latest = Object.keys(doc.versions).sort().at(-1);
    doc['dist-tags'].latest = latest;
    docs.set(manifest.name, JSON.stringify(doc));
  }
  return { base, close: () => new Promise((closed) => server.close(closed)) };
}

const APP_TS = `import { PeerKey } from '@mesh/core';
import type { seededRandom } from '@mesh/core/testing';
import type * as ice from '@mesh/ice-worker';
import type { FakeIceNetwork } from '@mesh/ice-worker/testing';
import type * as netMonitor from '@mesh/net-monitor';
import type { PeerConnOptions } from '@mesh/peer-conn';
import type { MemorySignalHub } from '@mesh/peer-conn/testing';
import type * as relayClient from '@mesh/relay-client';
import type * as relayManager from '@mesh/relay-manager';
import type { FakeRelayNetwork } from '@mesh/relay-manager/testing';
import type * as relayServer from '@mesh/relay-server';
import type { WgPeerConfig } from '@mesh/wg-control';
import type { FakeWireGuard } from '@mesh/wg-control/testing';
import { keyFromOtherLib } from 'other-lib';

const mine: PeerKey = PeerKey.parse('${KEY}'); // the app's @mesh/core (0.1.1)
const theirs = keyFromOtherLib('${KEY}'); // other-lib's @mesh/core (0.1.0)

// The app's PeerKey where peer-conn and wg-control expect the PeerKey of the @mesh/core they see.
export const options: Pick<PeerConnOptions, 'localKey' | 'remoteKey'> = { localKey: mine, remoteKey: mine };
export const peer: WgPeerConfig = { publicKey: mine, allowedIps: [] };
// One copy's PeerKey where the other copy's is expected, both ways.
export const fromOther: PeerKey = theirs;
export const back: ReturnType<typeof keyFromOtherLib> = mine;
export const same: boolean = mine.equals(theirs) && theirs.equals(mine);

export type Everything = [
  typeof seededRandom,
  typeof ice,
  FakeIceNetwork,
  typeof netMonitor,
  MemorySignalHub,
  typeof relayClient,
  typeof relayManager,
  FakeRelayNetwork,
  typeof relayServer,
  FakeWireGuard,
];
`;

const CHECK_MJS = `import { PeerKey } from '@mesh/core';
import { keyFromOtherLib } from 'other-lib';
const theirs = keyFromOtherLib('${KEY}');
const own = PeerKey.from(theirs);
if (!(own instanceof PeerKey) || !own.equals(PeerKey.parse('${KEY}'))) throw new Error('PeerKey.from lost the key');
`;

function writeOtherLib(dir) {
  mkdirSync(dir, { recursive: true });
  writeJson(join(dir, 'package.json'), {
    name: 'other-lib',
    version: '1.0.0',
    type: 'module',
    exports: { '.': { types: './index.d.ts', default: './index.js' } },
    dependencies: { '@mesh/core': '0.1.0' },
  });
  writeFileSync(
    join(dir, 'index.js'),
    "import { PeerKey } from '@mesh/core';\nexport const keyFromOtherLib = (text) => PeerKey.parse(text);\n",
  );
  writeFileSync(
    join(dir, 'index.d.ts'),
    "import type { PeerKey } from '@mesh/core';\nexport declare function keyFromOtherLib(text: string): PeerKey;\n",
  );
}

/** Every installed @mesh/core, as `path@version` relative to the app. */
function coreCopies(app, dir = join(app, 'node_modules'), out = []) {
  if (!existsSync(dir)) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = join(dir, entry.name);
    if (entry.name === '@mesh') {
      if (existsSync(join(full, 'core', 'package.json'))) {
        out.push(`${relative(app, join(full, 'core'))}@${readJson(join(full, 'core', 'package.json')).version}`);
      }
      for (const pkg of readdirSync(full)) coreCopies(app, join(full, pkg, 'node_modules'), out);
    } else if (entry.name.startsWith('@')) {
      for (const pkg of readdirSync(full)) coreCopies(app, join(full, pkg, 'node_modules'), out);
    } else if (!entry.name.startsWith('.')) {
      coreCopies(app, join(full, 'node_modules'), out);
    }
  }
  return out;
}

async function main() {
  const tarballs = join(work, 'tarballs');
  mkdirSync(tarballs);
  const packed = [];
  for (const name of PACKAGES) {
    const dir = join(packagesDir, name);
    if (!existsSync(join(dir, 'dist', 'index.js'))) {
      throw new Failure(`${dir}/dist is missing: build first (npx nx run-many -t build)`);
    }
    packed.push({ manifest: readJson(join(dir, 'package.json')), file: await pack(dir, tarballs) });
  }

  // @mesh/core again, as 0.1.1: the packed package with only its version changed.
  const unpacked = join(work, 'core-0.1.1');
  mkdirSync(unpacked);
  await run('tar', ['-xzf', packed[0].file, '-C', unpacked], work);
  const core011 = readJson(join(unpacked, 'package', 'package.json'));
  core011.version = '0.1.1';
  writeJson(join(unpacked, 'package', 'package.json'), core011);
  const bumped = join(work, 'tarballs-0.1.1');
  mkdirSync(bumped);
  packed.push({ manifest: core011, file: await pack(join(unpacked, 'package'), bumped) });

  const registry = await startRegistry(packed);
  try {
    const app = join(work, 'app');
    writeOtherLib(join(work, 'other-lib'));
    const otherLib = await pack(join(work, 'other-lib'), tarballs);
    mkdirSync(join(app, 'src'), { recursive: true });
    const dependencies = { '@mesh/core': '0.1.1', 'other-lib': `file:${otherLib}` };
    for (const name of PACKAGES.slice(1)) dependencies[`@mesh/${name}`] = '0.1.0';
    dependencies['@types/node'] = readJson(join(repo, 'node_modules/@types/node/package.json')).version;
    writeJson(join(app, 'package.json'), { name: 'two-copies-app', private: true, type: 'module', dependencies });
    writeFileSync(join(app, '.npmrc'), `@mesh:registry=${registry.base}\n`);
    // module nodenext implies moduleResolution nodenext and target esnext.
    const compilerOptions = { strict: true, module: 'nodenext', types: ['node'], skipLibCheck: false, noEmit: true };
    writeJson(join(app, 'tsconfig.json'), { compilerOptions, include: ['src'] });
    writeFileSync(join(app, 'src', 'index.ts'), APP_TS);
    writeFileSync(join(app, 'check.mjs'), CHECK_MJS);
    await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], app);
    const copies = coreCopies(app);
    const problems = [];
    if (copies.length < 2) problems.push(`expected two copies of @mesh/core, found ${copies.join(', ')}`);
    const tsc = join(repo, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app).catch((e) => problems.push(e.message));
    await run(process.execPath, ['check.mjs'], app).catch((e) => problems.push(e.message));
    const where = `@mesh/core copies: ${copies.join(', ')}`;
    if (problems.length) throw new Failure(`${problems.join('\n')}\n${NAME}: FAIL (${where})`);
    console.log(
      `${NAME}: PASS (${where}; tsc strict nodenext skipLibCheck=false clean; PeerKey.from across copies ok)`,
    );
  } finally {
    await registry.close();
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof Failure ? err.message : err);
  if (!(err instanceof Failure) || !err.message.includes(`${NAME}: FAIL`)) console.error(`${NAME}: FAIL (see above)`);
  process.exitCode = 1;
} finally {
  cleanup();
}
