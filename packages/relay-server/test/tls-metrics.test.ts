import { generateRelayToken, RelayClient } from '@mesh/relay-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectClient,
  onCleanup,
  openPair,
  randomKey,
  roundTrip,
  SECRET,
  selfSignedCert,
  startServer,
  type TestCert,
} from './helpers.js';

describe('TLS (self-signed cert made by openssl for this run)', () => {
  let tc: TestCert;
  let cert: Buffer;
  let key: Buffer;
  beforeAll(() => {
    tc = selfSignedCert();
    ({ cert, key } = tc);
  });
  afterAll(() => tc.remove());

  it('serves wss; the instance URL gets the rels scheme; clients trusting the CA exchange data', async () => {
    const server = await startServer({ tls: { cert, key }, exposedAddress: 'relay.test:443' });
    expect(server.instanceUrl).toBe('rels://relay.test:443');
    expect(server.url.startsWith('wss://127.0.0.1:')).toBe(true);
    const { ca, a, b } = await openPair(server, { tls: { ca: cert } });
    expect(ca.instanceUrl).toBe('rels://relay.test:443');
    await roundTrip(a, b, Buffer.from('over tls'));
    // rels:// is dialled as wss:// too.
    const port = server.address().port;
    const viaRels = await connectClient(server, randomKey(), { url: `rels://127.0.0.1:${port}`, tls: { ca: cert } });
    expect(viaRels.connected).toBe(true);
  });

  it('a client that does not trust the cert fails with ERR_RELAY_CONNECT', async () => {
    const server = await startServer({ tls: { cert, key } });
    const c = new RelayClient({ url: server.url, localKey: randomKey(), token: generateRelayToken(SECRET) });
    onCleanup(() => c.close());
    await expect(c.connect()).rejects.toMatchObject({ code: 'ERR_RELAY_CONNECT' });
  });
});

describe('metrics', () => {
  it('Prometheus text on GET /metrics: connected peers, forwarded messages and bytes, drops by cause', async () => {
    const server = await startServer({ metrics: { port: 0 } });
    const { a, b } = await openPair(server);
    await roundTrip(a, b, Buffer.alloc(100, 1));
    const addr = server.metricsAddress()!;
    const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('mesh_relay_connected_peers 2');
    expect(text).toContain('mesh_relay_messages_forwarded_total 1');
    expect(text).toContain('mesh_relay_bytes_forwarded_total 138');
    expect(text).toContain('mesh_relay_dropped_messages_total{cause="queue-full"} 0');
    expect(text).toMatch(/# TYPE mesh_relay_dropped_messages_total counter/);
    expect((await fetch(`http://127.0.0.1:${addr.port}/other`)).status).toBe(404);
  });

  it('a port in use is a typed error', async () => {
    const first = await startServer();
    await expect(startServer({ port: first.address().port })).rejects.toMatchObject({ code: 'ERR_RELAY_LISTEN' });
  });

  it('instance URL rules: scheme added by TLS, only rel/rels', async () => {
    const { instanceUrlOf, RelayServer } = await import('../src/index.js');
    expect(() => new RelayServer({ exposedAddress: 'rel://x:1' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(() => new RelayServer({ exposedAddress: 'ftp://x:1', secret: 's' })).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
    expect(instanceUrlOf('h:1', false)).toBe('rel://h:1');
    expect(instanceUrlOf('h:1', true)).toBe('rels://h:1');
    expect(instanceUrlOf('rel://h:1', true)).toBe('rel://h:1');
    expect(instanceUrlOf('RELS://Relay.Example:443', false)).toBe('rels://Relay.Example:443');
    expect(() => instanceUrlOf('http://h:1', false)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => instanceUrlOf('rel://a://b', false)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }),
    );
  });
});
