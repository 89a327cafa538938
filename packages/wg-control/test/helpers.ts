import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type DatagramPath, type DatagramPathEvents, FakeClock, MemoryPath, PathStats, TypedEmitter } from '@mesh/core';
import { PeerEndpoint, type PeerEndpointOptions } from '../src/index.js';

/** A UDP socket on 127.0.0.1 standing in for WireGuard: records what it receives. */
export class WgSocketStub {
  readonly received: Array<{ data: Buffer; from: RemoteInfo }> = [];
  readonly #waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('message', (data, from) => {
      this.received.push({ data, from });
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(): Promise<WgSocketStub> {
    const socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    return new WgSocketStub(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer, to: { host: string; port: number }): void {
    this.socket.send(data, to.port, to.host);
  }

  /** Resolves once `count` datagrams have arrived in total; rejects after timeoutMs (real time). */
  async waitFor(count: number, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fake WireGuard got ${this.received.length}/${count} datagrams`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** A WireGuard-looking datagram: type byte (1–4), three zero bytes, then payload. */
export function wgMessage(type: 1 | 2 | 3 | 4, payload = 'x'.repeat(28)): Buffer {
  return Buffer.concat([Buffer.from([type, 0, 0, 0]), Buffer.from(payload)]);
}

/** A DatagramPath whose send() always fails, to see drops counted. */
export class RefusingPath extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  readonly kind = 'refusing';
  readonly closed = false;
  readonly #stats = new PathStats();
  get counters() {
    return this.#stats.snapshot();
  }
  send(): boolean {
    return false;
  }
  close(): void {}
}

const cleanups: Array<() => void> = [];
/** Stops every endpoint and socket the helpers below opened (register with afterEach). */
export function runCleanups(): void {
  for (const c of cleanups.splice(0).reverse()) c();
}

/** Runs `fn` at the next runCleanups(). */
export function onCleanup(fn: () => void): void {
  cleanups.push(fn);
}

/** A started PeerEndpoint in front of a WgSocketStub standing in for WireGuard. */
export async function side(clock: FakeClock, options: Partial<PeerEndpointOptions> = {}) {
  const wg = await WgSocketStub.open();
  const ep = new PeerEndpoint({ wireguardPort: wg.port, clock, ...options });
  cleanups.push(
    () => wg.close(),
    () => ep.stop(),
  );
  const address = await ep.start();
  return { wg, ep, address };
}

/** Two sides joined by one MemoryPath pair (attached, not active). */
export async function pairOfSides(options: Partial<PeerEndpointOptions> = {}) {
  const clock = new FakeClock();
  const a = await side(clock, options);
  const b = await side(clock, options);
  const [pa, pb] = MemoryPath.pair('memory', () => clock.now());
  a.ep.attach(pa);
  b.ep.attach(pb);
  return { clock, a, b, pa, pb };
}

/** WireGuard's handshake initiation as it is on the wire: 148 bytes, type 1, sender index (LE) at 4. */
export function initiation(sender: number): Buffer {
  const b = Buffer.alloc(148);
  b[0] = 1;
  b.writeUInt32LE(sender, 4);
  return b;
}

/** WireGuard's handshake response: 92 bytes, type 2, sender index at 4, receiver index at 8. */
export function response(sender: number, receiver: number): Buffer {
  const b = Buffer.alloc(92);
  b[0] = 2;
  b.writeUInt32LE(sender, 4);
  b.writeUInt32LE(receiver, 8);
  return b;
}

/** A WireGuard transport message (keepalive size) to the session with this receiver index. */
export function transport(receiver: number): Buffer {
  const b = Buffer.alloc(32);
  b[0] = 4;
  b.writeUInt32LE(receiver, 4);
  return b;
}

/** A path attached to `ep` whose far end is driven by the test: what arrives there lands in `sent`. */
export function remotePath(clock: FakeClock, ep: PeerEndpoint, kind = 'remote') {
  const [path, remote] = MemoryPath.pair(kind, () => clock.now());
  ep.attach(path);
  const sent: Buffer[] = [];
  remote.on('data', (d) => sent.push(Buffer.from(d)));
  return { path, remote, sent };
}

/** One endpoint whose path's far end is driven by the test (no PeerEndpoint there). */
export async function sideWithRemote(options: Partial<PeerEndpointOptions> = {}) {
  const clock = new FakeClock();
  const a = await side(clock, { probeIntervalMs: 0, ...options });
  const { path: pa, remote, sent } = remotePath(clock, a.ep);
  return { clock, a, pa, remote, sent };
}

/** `type:senderIndex` of each handshake message, the bare type of anything else. */
export const tags = (list: Array<{ data: Buffer }>) =>
  list.map(({ data }) => (data[0] === 1 || data[0] === 2 ? `${data[0]}:${data.readUInt32LE(4)}` : `${data[0]}`));
