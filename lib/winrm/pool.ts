/**
 * Keep-alive connections per target (host:port:scheme:user...). NTLM authenticates a TCP
 * connection, not a request, so reusing a connection saves the handshake round trips and the
 * key derivation; Basic saves the TCP/TLS setup. Idle connections are handed out most
 * recently used first, so a sequential poll keeps landing on the same (hot) connection.
 *
 * Every connection holds a slot of the isolate's descriptor budget (budget.ts): with the
 * budget full, the least recently used idle connection of any pool is closed first, and a
 * connection that comes back while others wait for a slot is closed instead of kept. EMFILE
 * or ENFILE on connect shrinks the budget and is retried after a short pause, so running out
 * of descriptors makes polls slower rather than failed.
 */
import { abortError, Connection } from "./connection.ts";
import { type ConnectionBudget, connectionBudget } from "./budget.ts";

/**
 * How long an idle connection is kept: 90 s. Windows (HTTP.sys, which serves WinRM) closes
 * idle keep-alive connections after 120 s; closing ours 30 s earlier means we never write a
 * request into a connection the server is closing at that moment (a stale-connection retry).
 * 90 s still covers a 60 s polling interval (the common one) plus scheduling jitter, so a
 * host polled every minute keeps its authenticated connection while the budget has room.
 */
export const IDLE_TIMEOUT_MS = 90_000;

export interface PoolOptions {
  /** idle connections kept open for this target (the budget may close them sooner) */
  maxIdle: number;
  idleTimeoutMs: number;
  /** called when the last idle connection expired and none is in use */
  onEmpty?: () => void;
}

export interface PoolStats {
  /** TCP connections opened since the pool was created */
  opened: number;
  /** requests served on an already-open connection */
  reused: number;
  /** NTLM handshakes completed */
  handshakes: number;
  requests: number;
  /** requests that went out pipelined behind another request on the same connection */
  pipelined: number;
  /** whether this target answers pipelined requests: unknown until the first batch */
  pipelining: Pipelining;
  idle: number;
  active: number;
}

/**
 * "unknown" until a pipelined batch is answered ("on"); "off" once the server answered the
 * first request of a batch and then failed the rest (closed, garbled or silent), the way a
 * server without pipelining support fails (transport.ts).
 */
export type Pipelining = "unknown" | "on" | "off";

export class ConnectionPool {
  readonly #idle: Connection[] = [];
  readonly #active = new Set<Connection>();
  #closed = false;
  readonly stats: Omit<PoolStats, "idle" | "active"> = {
    opened: 0,
    reused: 0,
    handshakes: 0,
    requests: 0,
    pipelined: 0,
    pipelining: "unknown",
  };

  constructor(
    readonly key: string,
    private readonly open: (signal?: AbortSignal) => Promise<Connection>,
    private readonly opts: PoolOptions = { maxIdle: 4, idleTimeoutMs: IDLE_TIMEOUT_MS },
    private readonly budget: ConnectionBudget = connectionBudget(),
  ) {}

  /** An idle live connection, or a new one; `fresh` is true for a new one. */
  async acquire(signal?: AbortSignal): Promise<{ conn: Connection; fresh: boolean }> {
    if (signal?.aborted) throw abortError(signal);
    this.stats.requests++;
    while (this.#idle.length) {
      const conn = this.#idle.pop()!;
      this.budget.unpark(conn);
      if (!conn.alive) {
        conn.close();
        continue;
      }
      this.#active.add(conn);
      this.stats.reused++;
      return { conn, fresh: false };
    }
    const conn = await this.#openWithinBudget(signal);
    this.stats.opened++;
    if (this.#closed) {
      conn.close();
      throw new Error("connection pool closed");
    }
    this.#active.add(conn);
    return { conn, fresh: true };
  }

  /**
   * A new connection on a slot of the budget. Out of descriptors (EMFILE/ENFILE), the budget
   * makes room and the connect is tried again after a pause (25, 50, 100, 200 ms), within the
   * caller's deadline; only then does the poll fail, as "local_resource".
   */
  async #openWithinBudget(signal?: AbortSignal): Promise<Connection> {
    const conn = await this.budget.openOnSlot(() => this.open(signal), signal);
    this.#onClosed(conn);
    return conn;
  }

  /** (its own function: a closure made above would keep the first caller's signal alive) */
  #onClosed(conn: Connection) {
    conn.onClosed(() => {
      this.budget.unpark(conn);
      this.budget.release();
    });
  }

  /** Returns a connection after a complete exchange; closes it if it cannot be reused. */
  release(conn: Connection) {
    this.#active.delete(conn);
    if (
      !conn.alive || this.#closed || this.#idle.length >= this.opts.maxIdle ||
      !this.budget.keepIdle()
    ) {
      conn.close();
      return;
    }
    this.#idle.push(conn);
    this.budget.park(conn, () => this.#drop(conn));
    conn.park(this.opts.idleTimeoutMs, () => this.#drop(conn));
  }

  /** An idle connection leaves the pool (expired, or evicted by the budget) and is closed. */
  #drop(conn: Connection) {
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    this.budget.unpark(conn);
    conn.close();
    if (!this.#idle.length && !this.#active.size) this.opts.onEmpty?.();
  }

  /** Drops a connection whose exchange failed (its stream state is unknown). */
  discard(conn: Connection) {
    this.#active.delete(conn);
    conn.close();
  }

  /**
   * Closes a connection whose answers cannot be trusted any more (they came out of step),
   * whether it is back among the idle ones or still in use.
   */
  evict(conn: Connection) {
    if (this.#idle.includes(conn)) this.#drop(conn);
    else this.discard(conn);
  }

  snapshot(): PoolStats {
    return { ...this.stats, idle: this.#idle.length, active: this.#active.size };
  }

  /** Closes idle connections now and active ones when they are released. */
  close() {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) {
      this.budget.unpark(c);
      c.close();
    }
  }

  /** Closes every connection, including those in use (their requests fail). */
  destroy() {
    this.close();
    for (const c of this.#active) c.close();
    this.#active.clear();
  }
}

const shared = new Map<string, ConnectionPool>();

/** The process-wide pool for a key (used by the poller so polls share warm connections). */
export function sharedPool(
  key: string,
  open: (signal?: AbortSignal) => Promise<Connection>,
  opts?: PoolOptions,
): ConnectionPool {
  let pool = shared.get(key);
  if (!pool) {
    // forgotten once idle, so rotated credentials and removed devices leave nothing behind
    const created: ConnectionPool = new ConnectionPool(key, open, {
      maxIdle: opts?.maxIdle ?? 4,
      idleTimeoutMs: opts?.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
      onEmpty: () => {
        if (shared.get(key) === created) shared.delete(key);
      },
    });
    pool = created;
    shared.set(key, pool);
  }
  return pool;
}

/** Closes every shared pool (shutdown, tests). */
export function closeSharedPools() {
  for (const pool of shared.values()) pool.destroy();
  shared.clear();
}

export function sharedPoolStats(): Record<string, PoolStats> {
  const out: Record<string, PoolStats> = {};
  for (const [key, pool] of shared) out[key] = pool.snapshot();
  return out;
}
