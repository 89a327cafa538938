import { describe, expect, it } from 'vitest';
import { chooseMeetingServer, fallbackActive, type MeetingView } from '../src/parts/meeting.js';

const R1 = 'rel://relay1';
const R2 = 'rel://relay2';
const R3 = 'rel://relay3';

const view = (v: Partial<MeetingView>): MeetingView => ({
  controller: true,
  home: R1,
  remoteHome: R2,
  remoteUnreachable: null,
  mark: null,
  remoteFallback: true,
  ...v,
});

// One row per case of field-failures §12 (relay failover across several relay URLs), from each
// side. Both sides must name the same server for the same situation: rows come in pairs
// (controller's view, follower's view of the same moment).
const F = { controller: false }; // the follower's view (default: the controller's)
const rows: [name: string, v: Partial<MeetingView>, want: string | null][] = [
  // Both homes up, nothing unreachable: the controller's home.
  ['healthy (controller)', {}, R1],
  ['healthy (follower dials the controller home)', { ...F, home: R2, remoteHome: R1 }, R1],
  ['shared home (controller)', { remoteHome: R1 }, R1],
  ['shared home (follower)', { ...F, remoteHome: R1 }, R1],
  // NetBird #4498: the follower cannot reach the controller's home → the follower's home.
  ['follower marked controller home (controller dials it)', { remoteUnreachable: R1 }, R2],
  ['follower marked controller home (follower)', { ...F, home: R2, remoteHome: R1, mark: R1 }, R2],
  // A mark for a URL that is not the controller's current home changes nothing (it moved).
  ['mark names an old controller home (controller)', { remoteUnreachable: R3 }, R1],
  ['mark names an old controller home (follower)', { ...F, home: R2, remoteHome: R1, mark: R3 }, R1],
  // The follower has no home of its own: nothing to fall back to.
  ['marked, but no follower home (follower)', { ...F, home: null, remoteHome: R1, mark: R1 }, R1],
  ['no follower home (controller)', { remoteHome: null, remoteUnreachable: R1 }, R1],
  // The controller's relay is down (§12 "then kill relay2"): the follower's home.
  ['controller has no home (it dials the follower home)', { home: null }, R2],
  ['controller has no home (follower)', { ...F, home: R2, remoteHome: null }, R2],
  // Neither has a home: no relay at all.
  ['no homes (controller)', { home: null, remoteHome: null }, null],
  ['no homes (follower)', { ...F, home: null, remoteHome: null }, null],
  // Older peers (no relay-fallback): only ever the controller's home.
  ['old follower, sends no mark (controller)', { remoteFallback: false }, R1],
  ['old controller ignores marks (follower)', { ...F, home: R2, remoteHome: R1, mark: R1, remoteFallback: false }, R1],
  ['old follower, controller without home', { home: null, remoteFallback: false }, null],
  ['old controller without home (follower)', { ...F, home: R2, remoteHome: null, remoteFallback: false }, null],
];

describe('chooseMeetingServer (field-failures §12)', () => {
  for (const [name, v, want] of rows) {
    it(name, () => {
      expect(chooseMeetingServer(view(v))).toBe(want);
    });
  }

  it('fallback is active only for a mark on the controller’s current home, not our own', () => {
    const f = view({ controller: false, home: R2, remoteHome: R1 });
    expect(fallbackActive({ ...f, mark: R1 })).toBe(true);
    expect(fallbackActive({ ...f, mark: R3 })).toBe(false);
    expect(fallbackActive({ ...f, mark: R2, remoteHome: R2 })).toBe(false);
    expect(fallbackActive({ ...f, mark: R1, home: null })).toBe(false);
    expect(fallbackActive({ ...f, mark: R1, remoteFallback: false })).toBe(false);
  });
});
