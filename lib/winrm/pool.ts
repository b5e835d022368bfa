/**
 * Keep-alive connections per target (host:port:scheme:user...). NTLM authenticates a TCP
 * connection, not a request, so reusing a connection saves the handshake round trips and the
 * key derivation; Basic saves the TCP/TLS setup. Idle connections are handed out most
 * recently used first, so a sequential poll keeps landing on the same (hot) connection.
 */
import { abortError, Connection } from "./connection.ts";

export interface PoolOptions {
  /** idle connections kept open (Windows HTTP.sys drops idle ones after 120 s by default) */
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
    private readonly opts: PoolOptions = { maxIdle: 4, idleTimeoutMs: 60_000 },
  ) {}

  /** An idle live connection, or a new one; `fresh` is true for a new one. */
  async acquire(signal?: AbortSignal): Promise<{ conn: Connection; fresh: boolean }> {
    if (signal?.aborted) throw abortError(signal);
    this.stats.requests++;
    while (this.#idle.length) {
      const conn = this.#idle.pop()!;
      if (!conn.alive) continue;
      this.#active.add(conn);
      this.stats.reused++;
      return { conn, fresh: false };
    }
    const conn = await this.open(signal);
    this.stats.opened++;
    if (this.#closed) {
      conn.close();
      throw new Error("connection pool closed");
    }
    this.#active.add(conn);
    return { conn, fresh: true };
  }

  /** Returns a connection after a complete exchange; closes it if it cannot be reused. */
  release(conn: Connection) {
    this.#active.delete(conn);
    if (!conn.alive || this.#closed || this.#idle.length >= this.opts.maxIdle) {
      conn.close();
      return;
    }
    this.#idle.push(conn);
    conn.park(this.opts.idleTimeoutMs, () => {
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
      if (!this.#idle.length && !this.#active.size) this.opts.onEmpty?.();
    });
  }

  /** Drops a connection whose exchange failed (its stream state is unknown). */
  discard(conn: Connection) {
    this.#active.delete(conn);
    conn.close();
  }

  snapshot(): PoolStats {
    return { ...this.stats, idle: this.#idle.length, active: this.#active.size };
  }

  /** Closes idle connections now and active ones when they are released. */
  close() {
    this.#closed = true;
    for (const c of this.#idle.splice(0)) c.close();
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
      idleTimeoutMs: opts?.idleTimeoutMs ?? 60_000,
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
