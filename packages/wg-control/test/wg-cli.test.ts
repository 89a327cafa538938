import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyPair, parseWgDump, WgCliDevice } from '../src/index.js';

/** A stand-in `wg`: logs argv and any key file it is given, prints $dir/dump, or fails with $dir/stderr. */
function fakeWg(dir: string): string {
  const path = join(dir, 'wg');
  writeFileSync(
    path,
    `#!/bin/bash
echo "argv:$*" >> "${dir}/log"
args=("$@")
for ((i=0;i<\${#args[@]};i++)); do
  case "\${args[$i]}" in private-key|preshared-key)
    f="\${args[$((i+1))]}"; echo "file:$(stat -c %a "$f"):$(cat "$f")" >> "${dir}/log";;
  esac
done
[ -f "${dir}/sleep" ] && exec sleep 5
if [ -f "${dir}/stderr" ]; then cat "${dir}/stderr" >&2; exit 1; fi
[ "$1" = show ] && cat "${dir}/dump"
exit 0
`,
  );
  chmodSync(path, 0o755);
  return path;
}

const pk1 = generateKeyPair().publicKey;
const pk2 = generateKeyPair().publicKey;

describe('parseWgDump', () => {
  it('parses the interface line and every peer field', () => {
    const me = generateKeyPair();
    const state = parseWgDump(
      `${me.privateKey}\t${me.publicKey.base64}\t51820\toff\n` +
        `${pk1.base64}\t${generateKeyPair().privateKey}\t192.0.2.1:51820\t10.0.0.2/32,fd00::/64\t1700000000\t200\t100\t25\n` +
        `${pk2.base64}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n`,
    );
    expect(state.publicKey?.equals(me.publicKey)).toBe(true);
    expect(state.listenPort).toBe(51820);
    expect(state.peers[0]).toMatchObject({
      endpoint: '192.0.2.1:51820',
      allowedIps: ['10.0.0.2/32', 'fd00::/64'],
      lastHandshakeAt: 1_700_000_000_000,
      rxBytes: 200,
      txBytes: 100,
      persistentKeepalive: 25,
      presharedKey: true,
    });
    expect(state.peers[1]).toMatchObject({
      endpoint: null,
      allowedIps: [],
      lastHandshakeAt: 0,
      persistentKeepalive: 0,
      presharedKey: false,
    });
    expect(parseWgDump('(none)\t(none)\t0\toff\n')).toEqual({ publicKey: null, listenPort: 0, peers: [] });
  });

  it.each([
    ['empty output', ''],
    ['a short interface line', 'a\tb\n'],
    ['a short peer line', `(none)\t(none)\t0\toff\n${pk1.base64}\t(none)\n`],
    ['a bad number', `(none)\t(none)\t0\toff\n${pk1.base64}\t(none)\t(none)\t(none)\tx\t0\t0\toff\n`],
    ['a bad key', `(none)\t(none)\t0\toff\nnot-a-key\t(none)\t(none)\t(none)\t0\t0\t0\toff\n`],
  ])('rejects %s with ERR_WG_PROTOCOL', (_n, text) => {
    expect(() => parseWgDump(text)).toThrow(expect.objectContaining({ code: 'ERR_WG_PROTOCOL' }));
  });
});

describe('WgCliDevice with a stand-in wg', () => {
  let dir: string;
  let device: WgCliDevice;
  const log = () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : []);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'wgc-cli-'));
    writeFileSync(
      join(dir, 'dump'),
      `(none)\t(none)\t0\toff\n${pk1.base64}\t(none)\t(none)\t10.0.0.1/32\t0\t0\t0\toff\n`,
    );
    device = new WgCliDevice('wg0', { wgPath: fakeWg(dir), timeoutMs: 2000 });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes secrets in a private key file that is gone afterwards, never in argv', async () => {
    const me = generateKeyPair();
    const psk = generateKeyPair().privateKey;
    await device.setPrivateKey(me.privateKey);
    await device.upsertPeer({
      publicKey: pk2,
      endpoint: '192.0.2.9:5',
      persistentKeepalive: 0,
      presharedKey: psk,
      allowedIps: [],
    });
    const lines = log();
    expect(lines[0]).toMatch(/^argv:set wg0 private-key \/\S+\/key$/);
    expect(lines[1]).toBe(`file:600:${me.privateKey}`);
    expect(lines[2]).toMatch(
      new RegExp(
        `^argv:set wg0 peer ${pk2.base64.replace(/[+/]/g, '\\$&')} endpoint 192\\.0\\.2\\.9:5 persistent-keepalive off allowed-ips  preshared-key /\\S+/key$`,
      ),
    );
    expect(lines[3]).toBe(`file:600:${psk}`);
    expect(lines.join('\n')).not.toContain(`argv:${me.privateKey}`);
    for (const l of lines.filter((x) => x.startsWith('argv:'))) {
      expect(l).not.toContain(me.privateKey);
      expect(l).not.toContain(psk);
      const file = /(\/\S+\/key)/.exec(l)?.[1];
      if (file) expect(existsSync(file)).toBe(false);
    }
  });

  it('adds allowed IPs by reading the current list when replaceAllowedIps is false', async () => {
    await device.upsertPeer({ publicKey: pk1, allowedIps: ['10.0.0.2/32'], replaceAllowedIps: false });
    expect(log()).toEqual([
      'argv:show wg0 dump',
      `argv:set wg0 peer ${pk1.base64} allowed-ips 10.0.0.1/32,10.0.0.2/32`,
    ]);
  });

  it('reads through `wg show <if> dump` and removes with `remove`', async () => {
    expect((await device.getPeer(pk1))?.allowedIps).toEqual(['10.0.0.1/32']);
    await device.removePeer(pk1);
    await device.setListenPort(7);
    expect(log()).toEqual([
      'argv:show wg0 dump',
      `argv:set wg0 peer ${pk1.base64} remove`,
      'argv:set wg0 listen-port 7',
    ]);
  });

  it.each([
    [
      'Unable to modify interface: Address already in use',
      { code: 'ERR_WG_ERRNO', errno: -98, operation: 'setListenPort' },
    ],
    ['Unable to modify interface: Invalid argument', { code: 'ERR_WG_ERRNO', errno: -22 }],
    ['Unable to modify interface: No such device', { code: 'ERR_WG_DEVICE_NOT_RUNNING' }],
    ['Unable to access interface: Protocol not supported', { code: 'ERR_WG_DEVICE_NOT_RUNNING' }],
    ['something else entirely', { code: 'ERR_WG_COMMAND' }],
  ])('maps "%s" to a typed error', async (stderr, expected) => {
    writeFileSync(join(dir, 'stderr'), `${stderr}\n`);
    await expect(device.setListenPort(51820)).rejects.toMatchObject(expected);
  });

  it('reports a missing wg tool as ERR_WG_COMMAND and a garbled dump as ERR_WG_PROTOCOL', async () => {
    const none = new WgCliDevice('wg0', { wgPath: join(dir, 'no-such-wg') });
    await expect(none.getInterface()).rejects.toMatchObject({ code: 'ERR_WG_COMMAND' });
    writeFileSync(join(dir, 'dump'), 'garbage');
    await expect(device.getInterface()).rejects.toMatchObject({ code: 'ERR_WG_PROTOCOL' });
  });

  it('kills a hung wg at the deadline', async () => {
    writeFileSync(join(dir, 'sleep'), '');
    const slow = new WgCliDevice('wg0', { wgPath: join(dir, 'wg'), timeoutMs: 300 });
    await expect(slow.getInterface()).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
  });
});
