import { existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';

/**
 * What is at the unix socket `path`: `live` (it accepts connections), `denied` (something is there
 * but we may not connect: EACCES/EPERM, e.g. a root agent's 0600 socket), `stale` (a file nobody
 * serves, left by a crash) or `gone` (no file).
 */
export type SocketState = 'live' | 'denied' | 'stale' | 'gone';

export function probeSocket(path: string): Promise<SocketState> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve('live');
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') resolve('gone');
      else resolve(err.code === 'EACCES' || err.code === 'EPERM' ? 'denied' : 'stale');
    });
  });
}

/** True when something accepts connections on the unix socket `path`. */
export async function connectable(path: string): Promise<boolean> {
  return (await probeSocket(path)) === 'live';
}

/**
 * Makes `path` free for a new socket: false when a live process serves it; a file nobody serves
 * (left by a crash) is removed. Never removes a directory.
 */
export async function claimSocketPath(path: string): Promise<boolean> {
  if (await connectable(path)) return false;
  if (existsSync(path)) rmSync(path);
  return true;
}
