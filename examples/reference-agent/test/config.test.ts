import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCode } from '@mesh/core';
import { afterAll, describe, expect, it } from 'vitest';
import { type ConfigError, DEFAULT_TUNING, loadConfig, parseConfig } from '../src/index.js';
import { keyPair, validConfig } from './fixtures.js';

// biome-ignore lint/suspicious/noExplicitAny: the tests break a valid config one field at a time
type Loose = Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'mesh-agent-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Applies `edit` to a valid config and returns the ConfigError it raises. */
function errorOf(edit: (c: Loose) => void): ConfigError {
  const c = validConfig() as Loose;
  edit(c);
  try {
    parseConfig(c, { baseDir: dir });
  } catch (err) {
    expect(hasCode(err, 'ERR_AGENT_CONFIG')).toBe(true);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('accepts the README example and fills in defaults', () => {
    const self = keyPair();
    const c = validConfig(self) as Loose;
    delete c.interface.mtu;
    delete c.metrics;
    const cfg = parseConfig(c);
    expect(cfg.publicKey.base64).toBe(self.publicKey);
    expect(cfg.interface).toMatchObject({
      mtu: 1280,
      mode: 'wireguard-go',
      uapiSocket: '/var/run/wireguard/mesh0.sock',
    });
    expect(cfg.ice.stun).toEqual({ host: '192.0.2.10', port: 3478 });
    expect(cfg.ice.turn).toEqual({ host: '192.0.2.10', port: 3478, transport: 'udp', username: 'u', password: 'p' });
    expect(cfg.relay).toEqual({ urls: ['rel://192.0.2.10:33080'], token: null, secret: 'relay-secret' });
    expect(cfg.peers.map((p) => p.allowedIps)).toEqual([['100.64.0.2/32'], ['100.64.0.3/32']]);
    expect(cfg.metrics).toBeNull();
    expect(cfg.tuning).toEqual(DEFAULT_TUNING);
  });

  it('accepts a config without relay, ice, control and metrics', () => {
    const cfg = parseConfig({
      ...validConfig(),
      relay: undefined,
      ice: undefined,
      control: undefined,
      metrics: undefined,
    });
    expect(cfg.relay).toBeNull();
    expect(cfg.ice).toEqual({});
    expect(cfg.control.socket).toBe('/var/run/mesh-agent/mesh0.sock');
  });

  it('network.monitor: auto by default; poll and off accepted; anything else is a clear error', () => {
    expect(parseConfig(validConfig()).network).toEqual({ monitor: 'auto' });
    for (const monitor of ['auto', 'poll', 'off']) {
      expect(parseConfig({ ...validConfig(), network: { monitor } }).network.monitor).toBe(monitor);
    }
    expect(errorOf((c) => (c.network = { monitor: 'inotify' })).message).toBe(
      'config.network.monitor: expected one of auto, poll, off, got "inotify"',
    );
    expect(errorOf((c) => (c.network = { monitr: 'off' })).field).toBe('config.network.monitr');
  });

  it('missing field', () => {
    expect(errorOf((c) => delete c.signal).message).toBe('config.signal: missing (required)');
    expect(errorOf((c) => delete c.interface.address).message).toBe('config.interface.address: missing (required)');
    expect(errorOf((c) => delete c.privateKey).message).toBe(
      'config.privateKey: missing (give privateKey or privateKeyFile)',
    );
  });

  it('wrong type', () => {
    expect(errorOf((c) => (c.interface.listenPort = '51820')).message).toBe(
      'config.interface.listenPort: expected an integer, got the string "51820"',
    );
    expect(errorOf((c) => (c.peers = {})).message).toBe('config.peers: expected an array, got a object');
    expect(errorOf((c) => (c.peers[0].allowedIps = '100.64.0.2/32')).field).toBe('config.peers[0].allowedIps');
    expect(errorOf((c) => (c.interface = null)).message).toBe('config.interface: expected an object, got null');
  });

  it('out of range', () => {
    expect(errorOf((c) => (c.interface.listenPort = 70000)).message).toBe(
      'config.interface.listenPort: 70000 is out of range 1..65535',
    );
    expect(errorOf((c) => (c.interface.mtu = 100)).field).toBe('config.interface.mtu');
  });

  it('bad key: public keys are quoted, private keys never', () => {
    const e = errorOf((c) => (c.peers[1].publicKey = 'not-a-key'));
    expect(e.message).toBe(
      'config.peers[1].publicKey: invalid WireGuard key "not-a-key": expected 44 base64 characters encoding 32 bytes',
    );
    const secret = `${'A'.repeat(43)}`;
    const p = errorOf((c) => (c.privateKey = secret));
    expect(p.field).toBe('config.privateKey');
    expect(p.message).not.toContain(secret);
  });

  it('bad CIDR', () => {
    expect(errorOf((c) => (c.interface.address = '100.64.0.1')).message).toBe(
      'config.interface.address: invalid CIDR "100.64.0.1": expected e.g. 100.64.0.2/32',
    );
    expect(errorOf((c) => (c.peers[0].allowedIps = ['100.64.0.300/32'])).field).toBe('config.peers[0].allowedIps[0]');
    expect(errorOf((c) => (c.peers[0].allowedIps = ['10.0.0.0/33'])).field).toBe('config.peers[0].allowedIps[0]');
  });

  it('bad URL and wrong scheme', () => {
    expect(errorOf((c) => (c.signal.url = 'not a url')).message).toBe('config.signal.url: invalid URL "not a url"');
    expect(errorOf((c) => (c.signal.url = 'http://x:1')).message).toBe(
      'config.signal.url: unsupported scheme "http:" in "http://x:1": expected ws, wss',
    );
    expect(errorOf((c) => (c.relay.urls = ['rel://a:1', 'ftp://b'])).field).toBe('config.relay.urls[1]');
    expect(errorOf((c) => (c.ice.stun = ['192.0.2.10:3478'])).field).toBe('config.ice.stun[0]');
    expect(errorOf((c) => (c.ice.turn[0].url = 'turn:host:99999')).field).toBe('config.ice.turn[0].url');
    expect(errorOf((c) => (c.metrics.listen = 'localhost')).field).toBe('config.metrics.listen');
  });

  it('duplicate peer and overlapping routes', () => {
    const e = errorOf((c) => c.peers.push({ ...c.peers[0], allowedIps: ['100.64.0.9/32'] }));
    expect(e.message).toBe('config.peers[2].publicKey: duplicate peer (same key as config.peers[0])');
    expect(errorOf((c) => (c.peers[1].allowedIps = ['100.64.0.2/32'])).message).toBe(
      'config.peers[1].allowedIps[0]: 100.64.0.2/32 is already routed to config.peers[0]',
    );
  });

  it('peer = self', () => {
    const self = keyPair();
    const c = validConfig(self) as Loose;
    c.peers[0].publicKey = self.publicKey;
    expect(() => parseConfig(c)).toThrow("config.peers[0].publicKey: is this agent's own public key");
  });

  it('unknown field is an error, with a hint for case typos', () => {
    expect(errorOf((c) => (c.peers[0].allowedIPs = c.peers[0].allowedIps)).message).toBe(
      'config.peers[0].allowedIPs: unknown field (did you mean "allowedIps"?)',
    );
    expect(errorOf((c) => (c.colour = 'blue')).message).toBe('config.colour: unknown field');
    expect(errorOf((c) => (c.tuning = { probeInterval: 5 })).field).toBe('config.tuning.probeInterval');
  });

  it('exclusive pairs: privateKey/privateKeyFile, relay secret/token', () => {
    expect(errorOf((c) => (c.privateKeyFile = '/x')).field).toBe('config.privateKeyFile');
    expect(errorOf((c) => (c.relay.token = 'AAAA')).message).toBe(
      'config.relay.secret: give exactly one of relay.secret and relay.token',
    );
    expect(errorOf((c) => delete c.relay.secret).field).toBe('config.relay.secret');
    expect(errorOf((c) => (c.relay.urls = [])).message).toBe('config.relay.urls: needs at least one relay URL');
  });

  it('privateKeyFile: relative to the config, missing, unreadable, bad contents', () => {
    const self = keyPair();
    writeFileSync(join(dir, 'good.key'), `${self.privateKey}\n`, { mode: 0o600 });
    const c = validConfig(self) as Loose;
    delete c.privateKey;
    c.privateKeyFile = 'good.key';
    expect(parseConfig(c, { baseDir: dir }).publicKey.base64).toBe(self.publicKey);

    const missing = errorOf((x) => {
      delete x.privateKey;
      x.privateKeyFile = 'nope.key';
    });
    expect(missing.message).toBe(`config.privateKeyFile: cannot read "${join(dir, 'nope.key')}" (ENOENT)`);
    const isDir = errorOf((x) => {
      delete x.privateKey;
      x.privateKeyFile = dir;
    });
    expect(isDir.message).toBe(`config.privateKeyFile: cannot read "${dir}" (EISDIR)`);
    writeFileSync(join(dir, 'bad.key'), 'garbage\n');
    const bad = errorOf((x) => {
      delete x.privateKey;
      x.privateKeyFile = 'bad.key';
    });
    expect(bad.field).toBe(`config.privateKeyFile (contents of ${join(dir, 'bad.key')})`);
    expect(bad.message).not.toContain('garbage');
  });

  it('interface name, mode and socket rules', () => {
    expect(errorOf((c) => (c.interface.name = 'a-very-long-interface')).field).toBe('config.interface.name');
    expect(errorOf((c) => (c.interface.mode = 'boringtun')).field).toBe('config.interface.mode');
    expect(
      errorOf((c) => {
        c.interface.mode = 'kernel';
        c.interface.uapiSocket = '/x.sock';
      }).field,
    ).toBe('config.interface.uapiSocket');
    expect(errorOf((c) => (c.control.socket = 'relative.sock')).message).toBe(
      'config.control.socket: must be an absolute path',
    );
    expect(errorOf((c) => (c.tuning = { logLevel: 'loud' })).field).toBe('config.tuning.logLevel');
  });
});

describe('loadConfig', () => {
  it('names the file when it is missing or not JSON', () => {
    expect(() => loadConfig(join(dir, 'absent.json'))).toThrow(
      `config: cannot read "${join(dir, 'absent.json')}" (ENOENT)`,
    );
    writeFileSync(join(dir, 'broken.json'), '{ "privateKey": ');
    expect(() => loadConfig(join(dir, 'broken.json'))).toThrow(/^config: .*broken\.json is not valid JSON/);
  });
});
