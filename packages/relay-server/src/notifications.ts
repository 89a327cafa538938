import { encodePeerIdList, type PeerId } from '@mesh/relay-client';
import type { Notification, Session } from './session.js';

/**
 * Subscriptions to peer state and the online/offline notifications they produce. All notifications
 * queued for a session in one turn go out batched, in order, split at 244 ids.
 */
export class PeerNotifier {
  /** id key → sessions holding offline interest in it. */
  readonly #watchers = new Map<string, Set<Session>>();

  /** @param send sends one control frame to a session (it may end the session instead). */
  constructor(private readonly send: (s: Session, frame: Buffer) => void) {}

  /** `s` subscribes to `ids`; those `isOnline` says are up are announced at once. */
  subscribe(s: Session, ids: PeerId[], isOnline: (key: string) => boolean): void {
    const online: PeerId[] = [];
    for (const id of ids) {
      s.offlineInterest.add(id.key);
      const set = this.#watchers.get(id.key) ?? new Set<Session>();
      this.#watchers.set(id.key, set);
      set.add(s);
      if (isOnline(id.key)) online.push(id);
      else s.onlineInterest.add(id.key);
    }
    for (const id of online) this.#notify(s, { online: true, id });
  }

  unsubscribe(s: Session, ids: PeerId[]): void {
    for (const id of ids) {
      s.onlineInterest.delete(id.key);
      s.offlineInterest.delete(id.key);
      this.#unwatch(s, id.key);
    }
  }

  /** `s` no longer watches anything (its interest sets are left as they are). */
  unwatchAll(s: Session): void {
    for (const key of s.offlineInterest) this.#unwatch(s, key);
  }

  /**
   * `id` is routed: waiting watchers hear online. After a replacement (F-R-6: NetBird tells nobody)
   * every watcher hears offline then online, so clients drop entries bound to the dead session.
   */
  online(id: PeerId, replaced: boolean): void {
    for (const w of this.#watchers.get(id.key) ?? []) {
      if (replaced) {
        w.onlineInterest.delete(id.key);
        this.#notify(w, { online: false, id });
        this.#notify(w, { online: true, id });
      } else if (w.onlineInterest.delete(id.key)) {
        this.#notify(w, { online: true, id });
      }
    }
  }

  /** `id`'s routed session ended: its watchers hear offline. */
  offline(id: PeerId): void {
    for (const w of this.#watchers.get(id.key) ?? []) {
      if (w.offlineInterest.has(id.key)) this.#notify(w, { online: false, id });
    }
  }

  #unwatch(s: Session, key: string): void {
    const set = this.#watchers.get(key);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.#watchers.delete(key);
  }

  #notify(s: Session, n: Notification): void {
    if (s.closed) return;
    s.notifications.push(n);
    if (s.flushScheduled) return;
    s.flushScheduled = true;
    setImmediate(() => {
      s.flushScheduled = false;
      const batch = s.notifications.splice(0);
      let i = 0;
      while (i < batch.length && !s.closed) {
        const online = batch[i]!.online;
        const ids: PeerId[] = [];
        const seen = new Set<string>();
        for (; i < batch.length && batch[i]!.online === online; i++) {
          const id = batch[i]!.id;
          if (!seen.has(id.key)) ids.push(id);
          seen.add(id.key);
        }
        for (const frame of encodePeerIdList(online ? 'peers-online' : 'peers-offline', ids)) this.send(s, frame);
      }
    });
  }
}
