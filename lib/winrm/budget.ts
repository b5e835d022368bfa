/**
 * The file-descriptor budget for WinRM and WMI connections in one isolate (a poller Worker, or the
 * main isolate for discovery). Every connection, in use or kept alive, holds a slot:
 *
 * - a new connection takes a free slot; with none free, the least recently used idle
 *   connection of any pool is closed to make room; with every slot in use, the caller waits
 *   its turn (first come, first served; its AbortSignal still ends the wait);
 * - a connection coming back is kept alive only while nobody waits and the idle ones leave a
 *   reserve free for connections in use (a quarter of a small budget, at most 32 slots of a
 *   large one: a poller's polls in use at once are a few dozen, and every slot kept idle
 *   past that is a handshake saved per interval when hosts outnumber descriptors);
 *   otherwise it is closed, so past the budget a poll opens and closes its own connection
 *   (paying the handshake) instead of failing. Keeping the warm set rather than replacing it
 *   matters: polls come round in a fixed cycle, and a cycle longer than an LRU cache gets no
 *   hit at all, while a kept set gets (budget - reserve) / hosts of them;
 * - EMFILE/ENFILE on connect (the process ran out of descriptors anyway: the API, the
 *   database or a plugin took more than their reserve) closes half of the idle connections,
 *   shrinks the budget to what is open for a while, and the pool retries (pool.ts).
 *
 * Without configure() the budget is unbounded (the CLI, tests): nothing changes but the
 * bookkeeping. lib/os/fd_limit.ts sizes it from the process's open-files limit.
 */
import { abortError } from "./connection.ts";
import { isLocalResource } from "./errors.ts";

export interface ConnectionBudgetStats {
  /** slots (Infinity: unbounded); lower than configured for a while after EMFILE */
  max: number;
  configured: number;
  /** connections open or opening */
  open: number;
  /** of which idle (kept alive) */
  idle: number;
  /** callers waiting for a slot */
  waiting: number;
  /** idle connections closed to make room (least recently used first) */
  evicted: number;
  /** connections closed at release instead of kept alive, because of the budget */
  notKept: number;
  /** acquisitions that had to wait for a slot */
  waited: number;
  /** EMFILE/ENFILE (or ENOBUFS/ENOMEM) seen on connect */
  exhausted: number;
}

interface Waiter {
  grant(): void;
}

/** Connect attempts while the process is out of descriptors, before the poll fails. */
const LOCAL_RESOURCE_TRIES = 5;

/** Waits `ms`, or rejects when `signal` aborts first. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** How long the budget stays shrunk after the process ran out of descriptors. */
const SHRINK_MS = 30_000;

export class ConnectionBudget {
  #configured: number;
  #max: number;
  #open = 0;
  /** idle connections, least recently parked first, with how to evict each */
  readonly #idle = new Map<object, () => void>();
  readonly #waiters: Waiter[] = [];
  #waking = false;
  #restore: ReturnType<typeof setTimeout> | undefined;
  readonly counters = { evicted: 0, notKept: 0, waited: 0, exhausted: 0 };

  constructor(max = Infinity) {
    this.#configured = this.#max = ConnectionBudget.#valid(max);
  }

  static #valid(max: number): number {
    if (!(max >= 1)) throw new RangeError(`a connection budget needs at least 1 slot, not ${max}`);
    return max === Infinity ? max : Math.floor(max);
  }

  /** Sets the size (slots); connections over it are closed as they come back. */
  configure(max: number) {
    this.#configured = this.#max = ConnectionBudget.#valid(max);
    clearTimeout(this.#restore);
    this.#restore = undefined;
    while (this.#open > this.#max && this.#evictOldest());
    this.#wake();
  }

  /** Takes a slot for a new connection, waiting while every slot holds a connection in use. */
  reserve(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (!this.#waiters.length && this.#open < this.#max) {
      this.#open++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(abortError(signal!));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#wake();
      // still waiting: every slot holds a connection in use
      if (this.#waiters.includes(waiter)) this.counters.waited++;
    });
  }

  /**
   * A new connection on a slot: `open` runs once a slot is free. When it fails because the
   * process is out of descriptors anyway (isLocalResource), the budget makes room and `open`
   * is tried again after a pause (25, 50, 100, 200 ms), within `signal`; any other failure,
   * or the fifth, is thrown with the slot given back. The caller releases the slot when the
   * connection closes.
   */
  async openOnSlot<T>(open: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    for (let attempt = 1;; attempt++) {
      await this.reserve(signal);
      try {
        return await open();
      } catch (err) {
        this.release();
        if (!isLocalResource(err) || attempt >= LOCAL_RESOURCE_TRIES || signal?.aborted) throw err;
        this.exhausted();
        await pause(25 * 2 ** (attempt - 1), signal);
      }
    }
  }

  /** Gives a slot back (its connection closed, or it never opened). */
  release() {
    this.#open = Math.max(0, this.#open - 1);
    this.#wake();
  }

  /** Whether a connection coming back may stay open as an idle keep-alive connection. */
  keepIdle(): boolean {
    const keep = !this.#waiters.length && this.#open <= this.#max &&
      (this.#max === Infinity || this.#idle.size < this.#max - inUseReserve(this.#max));
    if (!keep) this.counters.notKept++;
    return keep;
  }

  /** An idle connection, evicted through `evict` (which must close it) when room is needed. */
  park(conn: object, evict: () => void) {
    this.#idle.delete(conn);
    this.#idle.set(conn, evict);
  }

  /** The connection is in use again, or gone. */
  unpark(conn: object) {
    this.#idle.delete(conn);
  }

  /**
   * The process ran out of descriptors while connecting: close half of the idle connections
   * (at least one) and hold the budget at what is open now for a while, so the rest of the
   * process (the API above all) gets room back.
   */
  exhausted() {
    this.counters.exhausted++;
    const evict = Math.max(1, Math.ceil(this.#idle.size / 2));
    for (let i = 0; i < evict && this.#evictOldest(); i++);
    this.#max = Math.max(1, Math.min(this.#max, this.#open));
    clearTimeout(this.#restore);
    this.#restore = setTimeout(() => {
      this.#restore = undefined;
      this.#max = this.#configured;
      this.#wake();
    }, SHRINK_MS);
    Deno.unrefTimer(this.#restore);
  }

  stats(): ConnectionBudgetStats {
    return {
      max: this.#max,
      configured: this.#configured,
      open: this.#open,
      idle: this.#idle.size,
      waiting: this.#waiters.length,
      ...this.counters,
    };
  }

  /** Closes the least recently used idle connection; false when there is none. */
  #evictOldest(): boolean {
    const first = this.#idle.entries().next();
    if (first.done) return false;
    const [conn, evict] = first.value;
    this.#idle.delete(conn);
    this.counters.evicted++;
    evict(); // closes it: its slot comes back through release()
    return true;
  }

  /** Hands free slots to waiters in order, evicting idle connections to make them. */
  #wake() {
    if (this.#waking) return;
    this.#waking = true;
    try {
      while (this.#waiters.length) {
        if (this.#open < this.#max) {
          this.#open++;
          this.#waiters.shift()!.grant();
          continue;
        }
        if (!this.#evictOldest()) break;
      }
    } finally {
      this.#waking = false;
    }
  }
}

/** Slots kept free of idle connections, for connections in use: see the header. */
export function inUseReserve(max: number): number {
  return Math.max(Math.min(Math.ceil(max / 4), 32), Math.ceil(max / 16));
}

let budget: ConnectionBudget | undefined;

/** This isolate's budget (each Worker has its own module instance, so its own budget). */
export function connectionBudget(): ConnectionBudget {
  return budget ??= new ConnectionBudget();
}

/** Sizes this isolate's budget: WinRM connections open at once, in use or idle. */
export function configureConnectionBudget(max: number) {
  connectionBudget().configure(max);
}
