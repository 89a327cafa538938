import { PeerKey } from '@mesh/core';
import type { PeerConnStatus } from '@mesh/peer-conn';
import { describe, expect, it } from 'vitest';
import { collectStatus, formatStatusTable, renderMetrics } from '../src/index.js';
import { keyPair } from './fixtures.js';

const self = PeerKey.parse(keyPair().publicKey);
const remote = [keyPair().publicKey, keyPair().publicKey];
const NOW = Date.parse('2026-11-25T12:00:00Z');

function peerStatus(key: string, over: Partial<PeerConnStatus> = {}): PeerConnStatus {
  return {
    remoteKey: key,
    controller: true,
    active: 'ice-direct',
    standby: ['relay'],
    relay: { server: 'rel://192.0.2.10:33080', stale: false, open: true },
    ice: { localSessionId: 'a1b2c3d4e5', remoteSessionId: '0102030405', connecting: false, kind: 'ice-direct' },
    lastHandshakeAt: NOW - 12_000,
    rxBytes: 2048,
    txBytes: 1_572_864,
    carrying: true,
    loss: { ice: 0, relay: 10 },
    iceDemoted: false,
    offline: false,
    counters: {
      offersSent: 3,
      offersReceived: 2,
      answersSent: 2,
      answersReceived: 3,
      candidatesSent: 4,
      candidatesReceived: 4,
      badMessages: 0,
      relayOpens: 1,
      relayReopens: 1,
      relayTeardowns: 1,
      iceSessions: 2,
      recoveries: 1,
    },
    ...over,
  };
}

const fakePeers = [
  { status: async () => peerStatus(remote[0]!) },
  {
    status: async () =>
      peerStatus(remote[1]!, {
        active: 'none',
        carrying: false,
        loss: { ice: null, relay: null },
        lastHandshakeAt: 0,
        rxBytes: 0,
        txBytes: 0,
        ice: { localSessionId: null, remoteSessionId: null, connecting: false, kind: null },
      }),
  },
];

describe('status', () => {
  it('the JSON form has exactly the documented shape', async () => {
    const relays = { homeInstanceUrl: 'rel://192.0.2.10:33080', ready: true };
    const status = await collectStatus(self, relays, fakePeers);
    expect(status).toStrictEqual({
      self: { publicKey: self.base64, relay: { home: 'rel://192.0.2.10:33080', connected: true } },
      peers: [
        {
          publicKey: remote[0],
          path: 'ice-direct',
          carrying: true,
          loss: { ice: 0, relay: 10 },
          iceDemoted: false,
          offline: false,
          lastHandshakeAt: '2026-11-25T11:59:48.000Z',
          rxBytes: 2048,
          txBytes: 1_572_864,
          iceSessionId: 'a1b2c3d4e5',
          counters: {
            offersSent: 3,
            offersReceived: 2,
            relayReopens: 1,
            relayTeardowns: 1,
            iceSessions: 2,
            recoveries: 1,
          },
        },
        {
          publicKey: remote[1],
          path: 'none',
          carrying: false,
          loss: { ice: null, relay: null },
          iceDemoted: false,
          offline: false,
          lastHandshakeAt: null,
          rxBytes: 0,
          txBytes: 0,
          iceSessionId: null,
          counters: {
            offersSent: 3,
            offersReceived: 2,
            relayReopens: 1,
            relayTeardowns: 1,
            iceSessions: 2,
            recoveries: 1,
          },
        },
      ],
    });
    // Without a relay manager: no home, not connected.
    expect((await collectStatus(self, null, [])).self.relay).toEqual({ home: null, connected: false });
  });

  it('the human form is one row per peer', async () => {
    const status = await collectStatus(self, { homeInstanceUrl: undefined, ready: false }, fakePeers);
    const text = formatStatusTable(status, NOW);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toBe(`self ${self.base64}  relay - (disconnected)`);
    expect(lines[2]).toMatch(/^PEER +PATH +HANDSHAKE +RX +TX +RECOVERIES$/);
    expect(lines[3]!.split(/ {2,}/)).toEqual([remote[0], 'ice-direct', '12s ago', '2.0 KiB', '1.5 MiB', '1']);
    expect(lines[4]!.split(/ {2,}/)).toEqual([remote[1], 'none', 'never', '0 B', '0 B', '1']);
    expect(lines).toHaveLength(5);
    expect(formatStatusTable({ ...status, peers: [] }, NOW)).toContain('(no peers configured)');
    // A selected path that has not carried data yet, a demoted ICE, an offline host: said in PATH.
    const [p0] = status.peers;
    const odd = [
      { ...p0!, path: 'ice-direct' as const, carrying: false },
      { ...p0!, path: 'relay' as const, iceDemoted: true, loss: { ice: 30, relay: 0 } },
      { ...p0!, path: 'none' as const, carrying: false, offline: true },
    ];
    const rows = formatStatusTable({ ...status, peers: odd }, NOW)
      .trimEnd()
      .split('\n')
      .slice(3);
    expect(rows.map((r) => r.split(/ {2,}/)[1])).toEqual([
      'ice-direct (no data yet)',
      'relay (ICE lossy 30%)',
      'none (offline)',
    ]);
  });

  it('metrics: per-peer path, handshake age, bytes, recoveries, offers, relay tear-downs', async () => {
    const status = await collectStatus(self, { homeInstanceUrl: 'rel://r:1', ready: true }, fakePeers);
    const text = renderMetrics(status, NOW);
    const p0 = `peer="${remote[0]}"`;
    const p1 = `peer="${remote[1]}"`;
    for (const line of [
      'mesh_relay_connected 1',
      `mesh_peer_path{${p0},path="ice-direct"} 1`,
      `mesh_peer_path{${p0},path="relay"} 0`,
      `mesh_peer_path{${p1},path="none"} 1`,
      `mesh_peer_last_handshake_age_seconds{${p0}} 12`,
      `mesh_peer_rx_bytes_total{${p0}} 2048`,
      `mesh_peer_tx_bytes_total{${p0}} 1572864`,
      `mesh_peer_recoveries_total{${p0}} 1`,
      `mesh_peer_offers_sent_total{${p0}} 3`,
      `mesh_peer_offers_received_total{${p0}} 2`,
      `mesh_peer_relay_teardowns_total{${p0}} 1`,
      `mesh_peer_carrying{${p0}} 1`,
      `mesh_peer_carrying{${p1}} 0`,
      `mesh_peer_path_loss_percent{${p0},path="relay"} 10`,
      `mesh_peer_ice_demoted{${p0}} 0`,
      `mesh_peer_offline{${p0}} 0`,
      '# TYPE mesh_peer_relay_teardowns_total counter',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).not.toContain(`mesh_peer_last_handshake_age_seconds{${p1}}`); // never: absent
    expect(text.endsWith('\n')).toBe(true);
  });
});
