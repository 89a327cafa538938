/**
 * A small UDP tool the lab runs inside a namespace (`lab.startUdpAgent`). JSON lines in, JSON lines out.
 *   argv: [--port N] [--bind ADDR] [--echo]
 *   stdin:  {"op":"send","host","port","data"} | {"op":"stun","host","port"}
 *   stdout: {"ev":"ready","port"} | {"ev":"recv","from","port","data"} | {"ev":"stun","address","port","from"}
 *           | {"ev":"error","message"}
 * With --echo every non-STUN datagram is sent back to its sender.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { isStun, parseStunBindingResponse, stunBindingRequest } from './stun.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    bind: { type: 'string', default: '0.0.0.0' },
    echo: { type: 'boolean' },
  },
});
const out = (obj: unknown) => process.stdout.write(`${JSON.stringify(obj)}\n`);
const sock = createSocket('udp4');
sock.on('error', (e) => out({ ev: 'error', message: e.message }));
sock.on('message', (msg, rinfo) => {
  if (isStun(msg)) {
    const mapped = parseStunBindingResponse(msg);
    if (mapped) out({ ev: 'stun', address: mapped.address, port: mapped.port, from: rinfo.address });
    return;
  }
  out({ ev: 'recv', from: rinfo.address, port: rinfo.port, data: msg.toString() });
  if (values.echo) sock.send(msg, rinfo.port, rinfo.address);
});
sock.bind(Number(values.port), values.bind, () => out({ ev: 'ready', port: sock.address().port }));

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let cmd: { op?: string; host?: string; port?: number; data?: string };
  try {
    cmd = JSON.parse(line);
  } catch {
    return out({ ev: 'error', message: `bad command: ${line}` });
  }
  if (typeof cmd.host !== 'string' || typeof cmd.port !== 'number') {
    return out({ ev: 'error', message: `command needs host and port: ${line}` });
  }
  const payload = cmd.op === 'stun' ? stunBindingRequest() : Buffer.from(cmd.data ?? '');
  sock.send(payload, cmd.port, cmd.host, (e) => e && out({ ev: 'error', message: e.message }));
});
rl.on('close', () => sock.close());
process.on('SIGTERM', () => {
  sock.close();
  process.exit(0);
});
