import { existsSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';

/** True when something accepts connections on the unix socket `path`. */
export function connectable(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
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
