import { createSocket, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import {
  type Clock,
  type DatagramPath,
  type DatagramPathEvents,
  InvalidArgumentError,
  type PathCloseInfo,
  PathStats,
  systemClock,
  TypedEmitter,
} from '@mesh/core';
import { MAX_UDP_PAYLOAD } from './constants.js';
import { validatePort } from './device.js';

/** Options of UdpPath.open(). */
export interface UdpPathOptions {
  /** IP address of the remote end. */
  remoteHost: string;
  /** UDP port of the remote end. */
  remotePort: number;
  /** Default: the unspecified address of the remote's family. */
  bindHost?: string;
  /** Default 0 (ephemeral). */
  bindPort?: number;
  /** Label for logs and status. Default `udp`. */
  kind?: string;
  /** Wall-clock source for the counters; `systemClock` by default. */
  clock?: Clock;
  /** SO_RCVBUF / SO_SNDBUF of the socket. Default: the OS default. */
  socketBufferBytes?: number;
}

/**
 * A plain UDP DatagramPath to one fixed remote host:port over its own connected socket: the kernel
 * drops datagrams from any other source. For tests, the lab and benchmarks.
 */
export class UdpPath extends TypedEmitter<DatagramPathEvents> implements DatagramPath {
  /** Kind label for logs and status. */
  readonly kind: string;
  /** IP address of the remote end. */
  readonly remoteHost: string;
  /** UDP port of the remote end. */
  readonly remotePort: number;
  /** Sends the socket reported as failed (ICMP unreachable and the like). */
  sendErrors = 0;
  readonly #socket: Socket;
  readonly #stats: PathStats;
  #closed = false;

  private constructor(socket: Socket, options: UdpPathOptions, clock: Clock) {
    super();
    this.#socket = socket;
    this.kind = options.kind ?? 'udp';
    this.remoteHost = options.remoteHost;
    this.remotePort = options.remotePort;
    this.#stats = new PathStats(() => clock.now());
    socket.on('message', (msg) => this.#receive(msg));
    // A connected UDP socket reports ICMP errors (remote port unreachable) here; the path stays usable.
    socket.on('error', () => {
      this.sendErrors++;
    });
  }

  /** Binds a socket connected to the remote end; resolves once it is ready. */
  static async open(options: UdpPathOptions): Promise<UdpPath> {
    if (isIP(options.remoteHost) === 0)
      throw new InvalidArgumentError(`UdpPath: remoteHost must be an IP, got ${options.remoteHost}`);
    if (validatePort(options.remotePort, 'remotePort') === 0)
      throw new InvalidArgumentError('UdpPath: remotePort must not be 0');
    const v6 = isIPv6(options.remoteHost);
    const bytes = options.socketBufferBytes;
    const socket = createSocket({
      type: v6 ? 'udp6' : 'udp4',
      ...(bytes ? { recvBufferSize: bytes, sendBufferSize: bytes } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', (err: NodeJS.ErrnoException) => {
        socket.close();
        reject(new InvalidArgumentError(`UdpPath cannot bind/connect: ${err.code ?? err.message}`, { cause: err }));
      });
      socket.bind(validatePort(options.bindPort ?? 0, 'bindPort'), options.bindHost ?? (v6 ? '::' : '0.0.0.0'), () => {
        // Connected: the kernel accepts datagrams from the remote only, and sends skip the
        // per-datagram address handling.
        socket.connect(options.remotePort, options.remoteHost, () => {
          socket.removeAllListeners('error');
          resolve();
        });
      });
    });
    return new UdpPath(socket, options, options.clock ?? systemClock);
  }

  /** The local address and port the socket is bound to. */
  get localAddress(): { address: string; port: number } {
    const { address, port } = this.#socket.address();
    return { address, port };
  }

  get closed(): boolean {
    return this.#closed;
  }

  get counters() {
    return this.#stats.snapshot();
  }

  send(datagram: Uint8Array): boolean {
    if (this.#closed || datagram.byteLength > MAX_UDP_PAYLOAD) return false;
    try {
      this.#socket.send(datagram);
    } catch {
      return false;
    }
    this.#stats.tx(datagram.byteLength);
    return true;
  }

  close(): void {
    this.#end({ reason: 'local' });
  }

  #receive(msg: Buffer): void {
    if (this.#closed) return;
    this.#stats.rx(msg.length);
    this.emit('data', msg);
  }

  #end(info: PathCloseInfo): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    this.emit('close', info);
    this.removeAllListeners();
  }
}
