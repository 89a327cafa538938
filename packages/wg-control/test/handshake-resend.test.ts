import { afterEach, describe, expect, it } from 'vitest';
import { CROSSED_INITIATION_WAIT_MS, HANDSHAKE_RESEND_WINDOW_MS, REKEY_TIMEOUT_MS } from '../src/constants.js';
import { initiation, remotePath, response, runCleanups, sideWithRemote, tags, transport } from './helpers.js';

afterEach(runCleanups);

const asTags = (list: Buffer[]) => tags(list.map((data) => ({ data })));

/**
 * One endpoint with an active path `pa` whose far end sends nothing (with `silent`, so that it is
 * silent after 1.5 s; otherwise paths stay alive: null for a minute), and a second path `q`. The test drives WireGuard (a.wg) and both far ends.
 */
async function switching(options: { silent: boolean }) {
  const s = await sideWithRemote({ trafficTrustWindowMs: options.silent ? 1000 : 60_000 });
  s.a.ep.setActive(s.pa);
  if (options.silent) await s.clock.advance(2000);
  expect(s.a.ep.pathStatus(s.pa)!.alive).toBe(options.silent ? false : null);
  const q = remotePath(s.clock, s.a.ep, 'q');
  /** WireGuard sends `msg`; resolves once it has left on the active path. */
  const fromWireguard = async (msg: Buffer) => {
    const before = s.a.ep.stats.fromWireguard.packets;
    s.a.wg.send(msg, s.a.address);
    await expect.poll(() => s.a.ep.stats.fromWireguard.packets, { timeout: 3000 }).toBe(before + 1);
  };
  return { ...s, q, fromWireguard };
}

describe('PeerEndpoint: handshake messages resent at a path switch', () => {
  it('(a) an initiation sent on a silent active path goes out again on the next active path', async () => {
    const { clock, a, q, sent, fromWireguard } = await switching({ silent: true });
    await fromWireguard(initiation(5));
    expect(asTags(sent)).toEqual(['1:5']); // sent, into the void
    await clock.advance(3000); // PeerConn takes a while to fail over; WireGuard retries only after 5 s
    a.ep.setActive(q.path);
    await expect.poll(() => asTags(q.sent), { timeout: 3000 }).toEqual(['1:5']);
    expect(a.ep.stats).toMatchObject({ handshakesResent: 1, heldHandshakesSent: 0 });
  });

  it('(a) so does a response: WireGuard never resends one, only the remote retries after 5 s', async () => {
    const { a, q, fromWireguard } = await switching({ silent: true });
    q.remote.send(initiation(9)); // arrives fine on the remote's active path …
    await a.wg.waitFor(1);
    await fromWireguard(response(6, 9)); // … the answer goes out on our silent active path
    a.ep.setActive(q.path);
    await expect.poll(() => asTags(q.sent), { timeout: 3000 }).toEqual(['2:6']);
    expect(a.ep.stats.handshakesResent).toBe(1);
  });

  it('(b) an initiation sent on a live path just before the switch goes out on the new one too', async () => {
    const { clock, a, q, sent, fromWireguard } = await switching({ silent: false });
    await fromWireguard(initiation(5));
    await clock.advance(HANDSHAKE_RESEND_WINDOW_MS - 100);
    a.ep.setActive(q.path);
    await expect.poll(() => asTags(q.sent), { timeout: 3000 }).toEqual(['1:5']);
    expect(asTags(sent)).toEqual(['1:5']);
    expect(a.ep.stats.handshakesResent).toBe(1);
  });

  it('(b) also when the old path is dropped first and the new one comes later', async () => {
    const { clock, a, q, pa, fromWireguard } = await switching({ silent: false });
    await fromWireguard(initiation(5));
    await clock.advance(300);
    a.ep.detach(pa); // its conn failed: no active path for a while
    await clock.advance(2000);
    a.ep.setActive(q.path);
    await expect.poll(() => asTags(q.sent), { timeout: 3000 }).toEqual(['1:5']);
    expect(a.ep.stats.handshakesResent).toBe(1);
  });

  it('not resent: sent on a live path long before the switch, answered, superseded, or stale', async () => {
    const { clock, a, remote, q, sent, fromWireguard } = await switching({ silent: false });
    const other = remotePath(clock, a.ep, 'other');
    // Live path, sent HANDSHAKE_RESEND_WINDOW_MS before the switch: it arrived, or the answer is what is lost.
    await fromWireguard(initiation(5));
    await clock.advance(HANDSHAKE_RESEND_WINDOW_MS);
    a.ep.setActive(q.path);
    // Answered: the remote's response names it.
    await fromWireguard(initiation(6));
    remote.send(response(20, 6));
    await a.wg.waitFor(1);
    a.ep.setActive(other.path);
    // A response the remote confirmed by using its session (a transport message to our index).
    remote.send(initiation(30));
    await a.wg.waitFor(2);
    await fromWireguard(response(7, 30));
    remote.send(transport(7));
    await a.wg.waitFor(3);
    a.ep.setActive(q.path);
    // A response to a handshake the remote abandoned: it started another one.
    remote.send(initiation(31));
    await a.wg.waitFor(4);
    await fromWireguard(response(8, 31));
    remote.send(initiation(32));
    await a.wg.waitFor(5);
    a.ep.setActive(other.path);
    await clock.advance(300); // WireGuard did not answer 32 (ANSWER_WAIT_MS): nothing waits for it
    // Older than WireGuard's retry: it has made a newer one by now.
    a.ep.setActive(null);
    await fromWireguard(initiation(9));
    a.ep.setActive(q.path); // held while no path was active: sent now
    await clock.advance(REKEY_TIMEOUT_MS);
    a.ep.setActive(other.path);
    await clock.advance(100);
    expect(asTags(sent)).toEqual(['1:5']);
    expect(asTags(q.sent)).toEqual(['1:6', '2:8', '1:9']);
    expect(asTags(other.sent)).toEqual(['2:7']);
    expect(a.ep.stats).toMatchObject({ handshakesResent: 0, heldHandshakesSent: 1 });
  });

  it('only ever the newest: after an initiation and a response, the response alone', async () => {
    const { a, remote, q, sent, fromWireguard } = await switching({ silent: true });
    await fromWireguard(initiation(5));
    remote.send(initiation(3)); // lower index than ours: WireGuard answers it and forgets its own
    await a.wg.waitFor(1);
    await fromWireguard(response(6, 3));
    a.ep.setActive(q.path);
    await expect.poll(() => asTags(q.sent), { timeout: 3000 }).toEqual(['2:6']);
    expect(asTags(sent)).toEqual(['1:5', '2:6']);
  });
});

describe('PeerEndpoint: a held crossed initiation is judged against WireGuard’s newest own one', () => {
  it('a newer own initiation with a lower index than the held one keeps it held, a full wait from then', async () => {
    const { clock, a, remote, sent, fromWireguard } = await switching({ silent: false });
    await fromWireguard(initiation(5));
    remote.send(initiation(9)); // crossed: 9 > 5, held
    await expect.poll(() => a.ep.stats.crossedInitiationsHeld, { timeout: 3000 }).toBe(1);
    await clock.advance(CROSSED_INITIATION_WAIT_MS - 100);
    await fromWireguard(initiation(7)); // WireGuard's retry: the remote sees 7 < 9 and answers it
    await clock.advance(100); // the wait for 5 is over: releasing 9 now would have both sides forget their own
    remote.send(transport(0)); // a marker: a released initiation would have reached WireGuard before it
    await a.wg.waitFor(1);
    expect(tags(a.wg.received)).toEqual(['4']);
    remote.send(response(20, 7)); // the remote answered 7: the held 9 is dropped
    await a.wg.waitFor(2);
    await clock.advance(CROSSED_INITIATION_WAIT_MS * 2);
    expect(tags(a.wg.received)).toEqual(['4', '2:20']);
    expect(a.ep.stats.drops.crossedInitiation).toBe(1);
    expect(asTags(sent)).toEqual(['1:5', '1:7']);
  });

  it('a newer own initiation with a higher index releases the held one at once; WireGuard forgets the new one', async () => {
    const { a, remote, sent, fromWireguard } = await switching({ silent: false });
    await fromWireguard(initiation(5));
    remote.send(initiation(9));
    await expect.poll(() => a.ep.stats.crossedInitiationsHeld, { timeout: 3000 }).toBe(1);
    a.wg.send(initiation(12), a.address); // the remote sees 9 < 12: it waits for our answer to 9
    await a.wg.waitFor(1);
    expect(tags(a.wg.received)).toEqual(['1:9']);
    a.wg.send(response(13, 9), a.address);
    await expect.poll(() => asTags(sent), { timeout: 3000 }).toEqual(['1:5', '2:13']);
    expect(a.ep.stats.drops.forgottenInitiation).toBe(1);
  });

  it('a held initiation is released as soon as WireGuard answers another one (it forgot its own)', async () => {
    const { clock, a, remote, fromWireguard } = await switching({ silent: false });
    remote.send(initiation(2));
    await a.wg.waitFor(1);
    await fromWireguard(initiation(5)); // made before WireGuard got to 2: doomed, held
    remote.send(initiation(9)); // the remote started over: 9 > 5, held for the answer to 5
    await expect.poll(() => a.ep.stats.crossedInitiationsHeld, { timeout: 3000 }).toBe(1);
    await fromWireguard(response(6, 2)); // WireGuard answers 2 and forgets 5: nobody will answer 5
    await a.wg.waitFor(2);
    expect(tags(a.wg.received)).toEqual(['1:2', '1:9']);
    expect(clock.monotonic()).toBe(0); // no wait: the fake clock never moved
  });
});
