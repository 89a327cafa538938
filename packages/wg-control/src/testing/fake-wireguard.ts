import { createSocket, type Socket } from 'node:dgram';
import { type Clock, PeerKey, type Timer } from '@mesh/core';
import {
  MESSAGE_INITIATION_SIZE,
  MESSAGE_INITIATION_TYPE,
  MESSAGE_KEEPALIVE_SIZE,
  MESSAGE_RESPONSE_SIZE,
  MESSAGE_RESPONSE_TYPE,
  MESSAGE_TRANSPORT_TYPE,
  REJECT_AFTER_TIME_MS,
  REKEY_AFTER_TIME_MS,
  REKEY_TIMEOUT_MS,
} from '../constants.js';
import { emptyPeerState, type WgDevice, type WgPeerConfig, type WgPeerState } from '../device.js';

/** Options of a FakeWireGuard. */
export interface FakeWireGuardOptions {
  /** The (fake) clock that drives WireGuard's timers. */
  clock: Clock;
  /** Interface name reported as `name`. Default `fakewg0`. */
  name?: string;
  /** Retry interval of an unanswered handshake initiation. Default REKEY_TIMEOUT_MS (5 s). */
  rekeyTimeoutMs?: number;
  /** A session older than this is renewed. Default REKEY_AFTER_TIME_MS (120 s). */
  rekeyAfterMs?: number;
}

/** Size of the data packet sendData() sends by default (a small ping through the tunnel). */
const DATA_SIZE = 96;
/** WireGuard's own timer wheel: 100 ms granularity is plenty for these tests. */
const TICK_MS = 100;

function message(type: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  b[0] = type;
  return b;
}

/**
 * A stand-in for one WireGuard device with one peer, for fast PeerConn tests on the fake clock:
 * a real UDP socket on 127.0.0.1 that speaks WireGuard's message framing (types 1, 2, 4 with three
 * zero bytes and WireGuard's message sizes) to the configured endpoint. It initiates a handshake when it has none (retrying every
 * `rekeyTimeoutMs`), answers initiations, records the handshake time on both ends, sends persistent
 * keepalives, and renews the session after `rekeyAfterMs`. No cryptography: the framing and the
 * timing are what PeerEndpoint and HandshakeWatcher observe. Implements the WgDevice calls
 * PeerConn uses.
 */
export class FakeWireGuard implements Pick<WgDevice, 'name' | 'getPeer' | 'upsertPeer' | 'removePeer'> {
  /** Interface name. */
  readonly name: string;
  readonly #clock: Clock;
  readonly #rekeyTimeoutMs: number;
  readonly #rekeyAfterMs: number;
  #socket: Socket | undefined;
  #peer: WgPeerState | undefined;
  #endpoint: { host: string; port: number } | undefined;
  #timers: Timer[] = [];
  #awaitingResponse = false;
  #lastInitiationAt = Number.NEGATIVE_INFINITY;
  /** Data packets received from the peer (what a ping through the tunnel would see). */
  dataReceived = 0;
  /** UDP port of the fake's socket; 0 before start(). */
  port = 0;

  constructor(options: FakeWireGuardOptions) {
    this.#clock = options.clock;
    this.name = options.name ?? 'fakewg0';
    this.#rekeyTimeoutMs = options.rekeyTimeoutMs ?? REKEY_TIMEOUT_MS;
    this.#rekeyAfterMs = options.rekeyAfterMs ?? REKEY_AFTER_TIME_MS;
  }

  /** Binds the socket on 127.0.0.1 and starts the timers; resolves with the port (WireGuard's listen port). */
  async start(): Promise<number> {
    const socket = createSocket('udp4');
    socket.on('message', (msg, rinfo) => this.#receive(msg, rinfo.address, rinfo.port));
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    this.#socket = socket;
    this.port = socket.address().port;
    this.#timers.push(this.#clock.setInterval(() => this.#tick(), TICK_MS));
    return this.port;
  }

  /** Closes the socket and cancels every timer. */
  stop(): void {
    for (const t of this.#timers) t.cancel();
    this.#timers = [];
    this.#socket?.close();
    this.#socket = undefined;
  }

  /** Sends one data packet to the peer, as a ping through the tunnel would. */
  sendData(size = DATA_SIZE): boolean {
    if (!this.#peer || !this.#hasSession()) return false;
    this.#send(message(MESSAGE_TRANSPORT_TYPE, size));
    return true;
  }

  async getPeer(publicKey: PeerKey | string): Promise<WgPeerState | null> {
    const key = PeerKey.from(publicKey);
    return this.#peer?.publicKey.equals(key) ? { ...this.#peer } : null;
  }

  async upsertPeer(config: WgPeerConfig): Promise<void> {
    const key = PeerKey.from(config.publicKey);
    this.#peer ??= emptyPeerState(key);
    if (config.endpoint) {
      this.#peer.endpoint = config.endpoint;
      const i = config.endpoint.lastIndexOf(':');
      this.#endpoint = { host: config.endpoint.slice(0, i), port: Number(config.endpoint.slice(i + 1)) };
    }
    if (config.allowedIps) this.#peer.allowedIps = [...config.allowedIps];
    if (config.persistentKeepalive !== undefined) this.#peer.persistentKeepalive = config.persistentKeepalive;
    if (config.persistentKeepalive) {
      this.#timers.push(this.#clock.setInterval(() => this.#keepalive(), config.persistentKeepalive * 1000));
    }
  }

  async removePeer(publicKey: PeerKey | string): Promise<void> {
    if (this.#peer?.publicKey.equals(PeerKey.from(publicKey))) this.#peer = undefined;
  }

  #hasSession(): boolean {
    const p = this.#peer;
    return !!p && p.lastHandshakeAt > 0 && this.#clock.now() - p.lastHandshakeAt < REJECT_AFTER_TIME_MS;
  }

  #tick(): void {
    const p = this.#peer;
    if (!p || !this.#endpoint) return;
    const age = this.#clock.now() - p.lastHandshakeAt;
    const due = p.lastHandshakeAt === 0 || age >= this.#rekeyAfterMs;
    const mono = this.#clock.monotonic();
    if (due && mono - this.#lastInitiationAt >= this.#rekeyTimeoutMs) {
      this.#lastInitiationAt = mono;
      this.#awaitingResponse = true;
      this.#send(message(MESSAGE_INITIATION_TYPE, MESSAGE_INITIATION_SIZE));
    }
  }

  #keepalive(): void {
    if (this.#peer && this.#hasSession()) this.#send(message(MESSAGE_TRANSPORT_TYPE, MESSAGE_KEEPALIVE_SIZE));
  }

  #send(b: Buffer): void {
    if (!this.#socket || !this.#endpoint || !this.#peer) return;
    this.#peer.txBytes += b.length;
    this.#socket.send(b, this.#endpoint.port, this.#endpoint.host);
  }

  #receive(msg: Buffer, host: string, port: number): void {
    const p = this.#peer;
    if (!p || !this.#endpoint || host !== this.#endpoint.host || port !== this.#endpoint.port) return;
    p.rxBytes += msg.length;
    switch (msg[0]) {
      case MESSAGE_INITIATION_TYPE:
        p.lastHandshakeAt = this.#clock.now();
        this.#send(message(MESSAGE_RESPONSE_TYPE, MESSAGE_RESPONSE_SIZE));
        break;
      case MESSAGE_RESPONSE_TYPE:
        if (this.#awaitingResponse) {
          this.#awaitingResponse = false;
          p.lastHandshakeAt = this.#clock.now();
        }
        break;
      case MESSAGE_TRANSPORT_TYPE:
        if (msg.length > MESSAGE_KEEPALIVE_SIZE) this.dataReceived++; // not a keepalive
        break;
    }
  }
}
