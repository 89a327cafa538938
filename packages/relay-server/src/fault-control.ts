import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { toError } from '@mesh/core';
import type { RelayFaults } from './faults.js';
import { listen } from './listen.js';

/**
 * A tiny HTTP endpoint for test harnesses that run the CLI in another process. POST only:
 * `/stall?a=&b=`, `/unstall?a=&b=`, `/drop?peer=[&keepSocket=1]`, `/reset`. Peers are WireGuard keys
 * (base64 or hex, URL-encoded) or relay ids (`sha-…`). Exists only with `--fault-control`.
 */
export async function startFaultControl(faults: RelayFaults, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    const q = (name: string) => {
      const v = url.searchParams.get(name);
      if (!v) throw new Error(`missing ${name}`);
      return v;
    };
    try {
      if (req.method !== 'POST') throw new Error('POST only');
      let result: unknown = true;
      switch (url.pathname) {
        case '/stall':
          faults.stallPair(q('a'), q('b'));
          break;
        case '/unstall':
          faults.unstallPair(q('a'), q('b'));
          break;
        case '/drop':
          result = faults.dropSession(q('peer'), { keepSocket: url.searchParams.get('keepSocket') === '1' });
          break;
        case '/reset':
          faults.reset();
          break;
        default:
          res.writeHead(404).end();
          return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, result }));
    } catch (err) {
      res
        .writeHead(400, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: false, error: toError(err).message }));
    }
  });
  await listen(server, port, host);
  return server;
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
