import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const demo = fileURLToPath(new URL('../../dist/demo.js', import.meta.url));

describe('lab smoke demo', () => {
  it('shows handshake, ping, silent path and watcher firing under a UDP block, then recovery', async () => {
    const child = spawn(process.execPath, [demo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    console.log(stdout);
    const summary = JSON.parse(
      stdout
        .trim()
        .split('\n')
        .find((l) => l.startsWith('{'))!,
    ) as {
      ok: boolean;
      silentAfterMs: number;
      watcherReason: string;
      aliveAfterMs: number;
      outages: { durationMs: number }[];
      pings: { received: number };
    };
    expect(code).toBe(0);
    expect(summary.ok).toBe(true);
    // silent once the 2 s trust window has passed without a datagram (probes every 500 ms)
    expect(summary.silentAfterMs).toBeGreaterThanOrEqual(1_500);
    expect(summary.silentAfterMs).toBeLessThan(4_000);
    expect(summary.watcherReason).toBe('no-first-handshake');
    expect(summary.aliveAfterMs).toBeLessThan(3_000);
    expect(summary.outages).toHaveLength(1);
    expect(summary.pings.received).toBeGreaterThan(0);
    expect(stdout).toContain('lab torn down');
  });
});
