import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { onCleanup } from './helpers.js';

/**
 * A hostile signaling server for tests: it speaks the wire protocol (challenge, registered, message)
 * and forwards like the real one, but records every frame and can inject any frame to any peer. It
 * never checks registration proofs — it is the attacker, not the gatekeeper.
 */
export class MaliciousServer {
  readonly peers = new Map<string, WebSocket>();
  /** Frames forwarded to recipients, as sent: `{"type":"message","from",...}`. */
  readonly forwarded: Array<{ to: string; frame: string }> = [];
  readonly #wss: WebSocketServer;

  private constructor(wss: WebSocketServer, afterRegister?: 'close' | 'cut') {
    this.#wss = wss;
    wss.on('connection', (ws) => {
      ws.send(
        JSON.stringify({
          type: 'challenge',
          version: 1,
          ephemeralKey: randomBytes(32).toString('base64'),
          nonce: randomBytes(32).toString('base64'),
        }),
      );
      let me: string | undefined;
      ws.on('message', (data) => {
        const f = JSON.parse(String(data)) as { type: string; publicKey: string; to: string; box: string };
        if (f.type === 'register') {
          me = f.publicKey;
          this.peers.set(me, ws);
          // Once the frame is written: terminate() would discard it while still queued.
          ws.send(JSON.stringify({ type: 'registered', publicKey: me }), () => {
            if (afterRegister === 'close') ws.close(1000, 'bye');
            if (afterRegister === 'cut') ws.terminate();
          });
        } else if (f.type === 'send' && me) {
          const frame = JSON.stringify({ type: 'message', from: me, box: f.box });
          this.forwarded.push({ to: f.to, frame });
          this.peers.get(f.to)?.send(frame);
        }
      });
    });
  }

  /**
   * `autoPong: false` makes a server that never answers pings (a half-open connection, seen from the
   * client). `afterRegister` ends every connection right after registering it: `'close'` with a
   * close frame (the server's decision), `'cut'` without one (what a network failure looks like).
   */
  static async start(
    options: { autoPong?: boolean; port?: number; afterRegister?: 'close' | 'cut' } = {},
  ): Promise<MaliciousServer> {
    const { afterRegister, ...wsOptions } = options;
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, ...wsOptions });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    const s = new MaliciousServer(wss, afterRegister);
    onCleanup(() => s.close());
    return s;
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#wss.address() as AddressInfo).port}`;
  }

  /** Cuts every connection without a close frame, as a network failure does (the client sees 1006). */
  cut(): void {
    for (const ws of this.peers.values()) ws.terminate();
    this.peers.clear();
  }

  /** Sends `frame` (text, or a message frame built from parts) to the peer registered as `to`. */
  inject(to: string, frame: string | { from: string; box: Buffer | string }): void {
    const ws = this.peers.get(to);
    if (!ws) throw new Error(`${to} is not registered here`);
    ws.send(
      typeof frame === 'string'
        ? frame
        : JSON.stringify({
            type: 'message',
            from: frame.from,
            box: typeof frame.box === 'string' ? frame.box : frame.box.toString('base64'),
          }),
    );
  }

  close(): Promise<void> {
    for (const ws of this.peers.values()) ws.terminate();
    return new Promise((r) => this.#wss.close(() => r()));
  }
}
