import { EventEmitter } from 'eventemitter3';

/**
 * An eventemitter3 emitter whose event map the compiler can read back. TypeScript cannot infer
 * `T` from a subclass of `EventEmitter<T>` (its methods are generic), so the map is also declared
 * as a type-only property: `listen`, `Subscriptions` and `onceEvent` infer names and payloads from
 * it, and a misspelled event or a wrong listener is a compile error. Nothing exists at run time.
 */
export class TypedEmitter<T extends object> extends EventEmitter<T> {
  /** Type-only copy of the event map `T`, for inference; never set at run time. */
  declare readonly '~events'?: T;
}

/**
 * What a subscriber needs of an emitter: `on`/`off` plus the type-only event map. Interfaces that
 * expose only part of an emitter (`Pick<RelayManager, 'on' | 'off' | '~events'>`) fit too.
 */
export interface Subscribable<T extends object> {
  /** Type-only event map; never set at run time. */
  readonly '~events'?: T;
  // Loose on purpose: an emitter with more events than `T` must still fit (a SignalClient is a
  // Signaler). Names and payloads are checked by `listen`/`Subscriptions`/`onceEvent` against `~events`.
  /** Subscribes `fn` to `event`. */
  on(event: EventName<T>, fn: AnyListener): unknown;
  /** Unsubscribes `fn` (or every listener of `event` when `fn` is omitted). */
  off(event: EventName<T>, fn?: AnyListener): unknown;
}

/** Any listener; it is assignable to every listener type, so every emitter's `on` accepts it. */
export type AnyListener = (...args: unknown[]) => void;

/** The event map of a `TypedEmitter` (or any `Subscribable`). */
export type EventsOf<E> = E extends { readonly '~events'?: infer T } ? Exclude<T, undefined> : never;
/** The event names of `T` (an event map). */
export type EventName<T extends object> = EventEmitter.EventNames<T>;
/** The listener's arguments for event `K` of `T`, as a tuple. */
export type EventArgs<T extends object, K extends EventName<T>> = EventEmitter.ArgumentMap<T>[Extract<K, keyof T>];
/** The listener type for event `K` of `T`. */
export type EventListenerOf<T extends object, K extends EventName<T>> = EventEmitter.EventListener<T, K>;

/** Subscribes `fn` to `event` and returns the matching unsubscribe. */
export function listen<T extends object, K extends EventName<T>>(
  emitter: Subscribable<T>,
  event: K,
  fn: EventListenerOf<T, K>,
): () => void {
  emitter.on(event, fn as AnyListener);
  return () => {
    emitter.off(event, fn as AnyListener);
  };
}

/**
 * A table of subscriptions made together and dropped together (an owner's `stop()` calls
 * `clear()` once). Every entry is type-checked against its emitter's event map.
 */
export class Subscriptions {
  #offs: (() => void)[] = [];

  /** Subscribes `fn` to `event` of `emitter` and keeps the unsubscribe for `clear()`. */
  on<T extends object, K extends EventName<T>>(emitter: Subscribable<T>, event: K, fn: EventListenerOf<T, K>): this {
    this.#offs.push(listen(emitter, event, fn));
    return this;
  }

  /** Number of subscriptions held. */
  /** Unsubscribes everything. Idempotent. */
  clear(): void {
    const offs = this.#offs;
    this.#offs = [];
    for (const off of offs) off();
  }
}
