import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { type DatagramPath, type DatagramPathEvents, PathStats, TypedEmitter } from '@mesh/core';

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
