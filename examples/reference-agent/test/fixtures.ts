import { generateKeyPairSync } from 'node:crypto';

/** A fresh X25519 pair as WireGuard prints it (base64). */
export function keyPair(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return {
    privateKey: Buffer.from(String(privateKey.export({ format: 'jwk' }).d), 'base64url').toString('base64'),
    publicKey: Buffer.from(String(publicKey.export({ format: 'jwk' }).x), 'base64url').toString('base64'),
  };
}

/** A complete, valid config (the README's example shape); tests break one field at a time. */
export function validConfig(self = keyPair(), peers = [keyPair(), keyPair()]): Record<string, unknown> {
  return {
    privateKey: self.privateKey,
    interface: { name: 'mesh0', address: '100.64.0.1/24', listenPort: 51820, mtu: 1280 },
    signal: { url: 'ws://192.0.2.10:8443' },
    relay: { urls: ['rel://192.0.2.10:33080'], secret: 'relay-secret' },
    ice: {
      stun: ['stun:192.0.2.10:3478'],
      turn: [{ url: 'turn:192.0.2.10:3478?transport=udp', username: 'u', password: 'p' }],
    },
    peers: peers.map((p, i) => ({ publicKey: p.publicKey, allowedIps: [`100.64.0.${i + 2}/32`] })),
    control: { socket: '/run/mesh-agent/mesh0.sock' },
    metrics: { listen: '127.0.0.1:9101' },
  };
}
