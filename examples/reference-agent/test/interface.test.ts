import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openInterface, parseConfig } from '../src/index.js';
import { validConfig } from './fixtures.js';

// Only failure paths here: they never create an interface on the host. The lab test covers the
// real wireguard-go lifecycle inside a namespace.
const dir = mkdtempSync(join(tmpdir(), 'mesh-agent-iface-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ifaceConfig(over: Record<string, unknown>) {
  const c = validConfig();
  const name = `mtst${process.pid % 100000}`;
  c.interface = { name, address: '100.64.0.1/24', uapiSocket: join(dir, `${name}.sock`), ...over };
  return parseConfig(c).interface;
}

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe('openInterface failures leave nothing behind', () => {
  it('wireguard-go missing', async () => {
    const cfg = ifaceConfig({ wireguardGo: join(dir, 'no-such-binary') });
    await expect(openInterface(cfg)).rejects.toMatchObject({
      code: 'ERR_AGENT_INTERFACE',
      message: expect.stringContaining('cannot run'),
    });
  });

  it('wireguard-go exits at once: its stderr is in the error', async () => {
    const cfg = ifaceConfig({ wireguardGo: script('dies.sh', 'echo "TUN unavailable" >&2; exit 1') });
    await expect(openInterface(cfg)).rejects.toThrow(/exited \(1\): TUN unavailable/);
  });

  it('wireguard-go never creates its socket: bounded wait, process killed', async () => {
    const pidFile = join(dir, 'hang.pid');
    const cfg = ifaceConfig({ wireguardGo: script('hang.sh', `echo $$ > ${pidFile}; exec sleep 30`) });
    await expect(openInterface(cfg, { timeoutMs: 300 })).rejects.toThrow(/did not create .* within 300 ms/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow(); // gone
    expect(existsSync(cfg.uapiSocket!)).toBe(false);
  });

  it('a live UAPI socket is refused; a stale socket file (a crashed run) is taken over', async () => {
    const live = ifaceConfig({ wireguardGo: script('dies2.sh', 'exit 1') });
    const server = createServer();
    await new Promise<void>((r) => server.listen(live.uapiSocket!, r));
    try {
      await expect(openInterface(live)).rejects.toThrow(/already exists \(use interface.mode "existing"/);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const stale = ifaceConfig({ wireguardGo: script('dies3.sh', 'echo "no TUN" >&2; exit 1') });
    writeFileSync(stale.uapiSocket!, '');
    await expect(openInterface(stale)).rejects.toThrow(/exited \(1\): no TUN/); // got past the check
    expect(existsSync(stale.uapiSocket!)).toBe(false);
  });

  it('mode existing needs the interface', async () => {
    await expect(openInterface(ifaceConfig({ mode: 'existing' }))).rejects.toThrow(/not found \(mode "existing"/);
  });
});
