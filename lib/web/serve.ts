/**
 * The HTTP(S) server: our own listener and accept loop, each accepted connection handed to
 * Deno's HTTP engine (hyper, HTTP/1.1).
 *
 * Why not `Deno.serve`: its accept loop runs inside the runtime; when file descriptors run out
 * the accept fails with EMFILE, the serve promise rejects and the process exits, and nothing
 * times out a connection that never sends a complete request. 1,100 idle sockets against a
 * server under `ulimit -n 1024` ended it. node:http (2.9.6) survives the flood but its listener
 * stops accepting for good after EMFILE. So here:
 *
 * - the accept loop catches EMFILE / ENFILE (and any other accept error), backs off and accepts
 *   again: connections it already has keep being served;
 * - at `maxConnections` it stops accepting (new connections wait in the kernel's backlog) until
 *   one closes;
 * - a connection that has not delivered a complete request head `headerTimeoutMs` after it was
 *   accepted, or stays without a request for `idleTimeoutMs` after its last response, is closed
 *   (a partial header or a silent socket alike); so is one whose request body has not arrived
 *   `headerTimeoutMs` after its head (a body sent a byte at a time held its connection, and
 *   512 of them every connection, for as long as the sender liked). These closes are abrupt
 *   (the connection's abort signal): no handler is running then, and the engine's graceful
 *   close would first wait for the rest of a body. Over HTTPS a client that has not finished the
 *   TLS handshake by the header timeout is cut off too: Deno's `close()` cannot end a
 *   connection in its handshake, so its socket is shut down (lib/os/socket_shutdown.ts). Only
 *   HTTP/1.1 is offered: an HTTP/2 connection that goes silent after GOAWAY could not be closed;
 * - one client address holds at most `maxConnectionsPerAddress` connections (trusted proxies
 *   excepted); past it its new ones are closed at once, so one client cannot take every slot.
 *
 * A response that says `Connection: close` ends its connection once it is sent: the body limit's
 * 413 leaves the request body unread, and the engine alone kept such a connection open with the
 * client's bytes pending, so a client that writes its whole body before reading hung. The engine
 * reads the rest of the body first (the client sees its answer rather than a reset), for
 * `headerTimeoutMs` at most.
 *
 * Over HTTPS the listening socket gets TCP_NODELAY (inherited by what it accepts): the engine
 * sends a response's head and body as separate TLS records, and without it Nagle's algorithm
 * held the body ~40 ms for the client's delayed ACK (lib/web/tcp_nodelay.ts).
 *
 * Handing a `Deno.Conn` to the HTTP engine uses `serveHttpOnConnection`, which Deno 2 keeps
 * behind `Deno[Deno.internal]` (the public `Deno.serveHttp` was removed). `serve()` refuses to
 * start when it is missing rather than fall back to an unprotected server; tests/web_serve_test.ts
 * fails on a Deno that lacks it.
 */
import { compressResponses } from "./compress.ts";
import { setListenerNoDelay } from "../os/tcp_nodelay.ts";
import { SocketShutdown } from "../os/socket_shutdown.ts";

export interface ServeOptions {
  hostname: string;
  port: number;
  /** PEM certificate and key; absent means plain HTTP */
  tls?: { cert: string; key: string };
  /** time from accept to a complete request head (also bounds the TLS handshake) */
  headerTimeoutMs?: number;
  /** a kept-alive connection with no request for this long after its last response closes */
  idleTimeoutMs?: number;
  /** connections held at once; beyond it new ones wait in the listen backlog */
  maxConnections?: number;
  /**
   * connections one client address may hold at once (0: no cap); past it a new one from that
   * address is closed at once, before any TLS handshake. Addresses in `uncappedAddresses`
   * (trusted proxies, which carry many clients) have no cap.
   */
  maxConnectionsPerAddress?: number;
  uncappedAddresses?: readonly string[];
  /**
   * HTTPS: set TCP_NODELAY on the listening socket, which the accepted sockets inherit
   * (default true; see lib/web/tcp_nodelay.ts). Without it a response written as head + body
   * waits for the client's delayed ACK (~40 ms) on a kept-alive connection.
   */
  noDelay?: boolean;
  /** compress text responses by Accept-Encoding (default true) */
  compress?: boolean;
  onListen?: (addr: Deno.NetAddr) => void;
  /** a handler that throws: what the client gets (default 500, no details) */
  onError?: (err: unknown) => Response | Promise<Response>;
  /** accept errors and the like (the server carries on); default: console.error */
  onWarning?: (message: string) => void;
}

export const SERVE_DEFAULTS = {
  headerTimeoutMs: 20_000,
  idleTimeoutMs: 30_000,
  maxConnections: 512,
  maxConnectionsPerAddress: 128,
} as const;

export type Handler = (
  req: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

export interface HttpServer {
  addr: Deno.NetAddr;
  /** connections open right now */
  readonly connections: number;
  /** resolves when the server has stopped */
  finished: Promise<void>;
  /** stops accepting, lets requests in flight finish, closes every connection */
  shutdown(): Promise<void>;
}

interface ConnServer {
  finished: Promise<void>;
  shutdown(): Promise<void>;
}
type ServeOnConnection = (
  conn: Deno.Conn,
  signal: AbortSignal | undefined,
  handler: Handler,
  onError: (err: unknown) => Response | Promise<Response>,
  onListen: (scheme: string) => void,
) => ConnServer;

function serveOnConnection(): ServeOnConnection {
  // deno-lint-ignore no-explicit-any
  const internal = (Deno as any)[(Deno as any).internal];
  const fn = internal?.serveHttpOnConnection;
  if (typeof fn !== "function") {
    throw new Error(
      `this Deno (${Deno.version.deno}) has no serveHttpOnConnection: lib/web/serve.ts needs updating`,
    );
  }
  return fn as ServeOnConnection;
}

/**
 * `req` with a body that must have arrived whole `ms` after the head, or `expire` runs (the
 * connection is dropped: the handler reading the body sees it fail); `stop` ends the clock (the
 * answer is out: a body left unread is the engine's to drain, within the idle timeout). GET and
 * HEAD may not carry a body in a Request; the engine drains one sent anyway.
 */
function bodyWithin(
  req: Request,
  ms: number,
  expire: () => void,
): { request: Request; stop: () => void } {
  const timer = setTimeout(expire, ms);
  const stop = () => clearTimeout(timer);
  const body = req.body!.pipeThrough(new TransformStream({ flush: stop }));
  // built from its parts: `new Request(req, …)` reads req.signal, which makes Deno warn that
  // the signal aborts when the answer succeeds (its legacy behaviour; nothing here uses it)
  const init = { method: req.method, headers: req.headers, body, duplex: "half" } as RequestInit;
  return { request: new Request(req.url, init), stop };
}

/** Methods no handler serves and a `Request` may not be built with (TRACE: cross-site tracing). */
const FORBIDDEN_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);

function methodNotAllowed(method: string): Response {
  const body = {
    success: false,
    error: { code: "METHOD_NOT_ALLOWED", message: `${method.toUpperCase()} is not served here` },
  };
  return new Response(JSON.stringify(body), {
    status: 405,
    headers: { "content-type": "application/json", allow: "GET, HEAD, POST, PUT, PATCH, DELETE" },
  });
}

/** EMFILE (process) / ENFILE (system): out of file descriptors. */
export function isFdExhaustion(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return code === "EMFILE" || code === "ENFILE" ||
    /too many open files/i.test(String((err as Error)?.message ?? ""));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function serve(options: ServeOptions, handler: Handler): HttpServer {
  const serveOn = serveOnConnection();
  const headerTimeoutMs = options.headerTimeoutMs ?? SERVE_DEFAULTS.headerTimeoutMs;
  const idleTimeoutMs = options.idleTimeoutMs ?? SERVE_DEFAULTS.idleTimeoutMs;
  const maxConnections = options.maxConnections ?? SERVE_DEFAULTS.maxConnections;
  const perAddress = options.maxConnectionsPerAddress ?? SERVE_DEFAULTS.maxConnectionsPerAddress;
  const uncapped = new Set(options.uncappedAddresses ?? []);
  const warn = options.onWarning ?? ((m: string) => console.error(`nmslite: ${m}`));
  const onError = options.onError ?? ((err: unknown) => {
    warn(`request failed: ${err instanceof Error ? err.message : String(err)}`);
    return new Response("internal server error", { status: 500 });
  });
  const app = options.compress === false ? handler : compressResponses(handler);

  const listener: Deno.Listener = options.tls
    ? Deno.listenTls({
      hostname: options.hostname,
      port: options.port,
      cert: options.tls.cert,
      key: options.tls.key,
      // HTTP/1.1 only: an HTTP/2 connection's graceful shutdown waits for the client after
      // GOAWAY, so a silent HTTP/2 client could not be timed out.
      alpnProtocols: ["http/1.1"],
    })
    : Deno.listen({ hostname: options.hostname, port: options.port });
  const addr = listener.addr as Deno.NetAddr;
  if (options.tls && options.noDelay !== false) {
    // Plain TCP connections get TCP_NODELAY from Deno itself; TLS ones do not.
    const why = setListenerNoDelay(addr.port);
    if (why) {
      warn(`cannot set TCP_NODELAY on the HTTPS listener (${why}): responses may wait ~40 ms`);
    }
  }

  const open = new Set<ConnServer>();
  /** HTTPS: ends sockets whose TLS handshake Deno will not let go of (lib/os/socket_shutdown.ts) */
  const cutter = options.tls ? new SocketShutdown(addr.port) : undefined;
  /** closes a connection, also one still in its TLS handshake */
  const cut = (conn: Deno.Conn) => {
    try {
      conn.close();
    } catch { /* already closed */ }
    cutter?.request(conn.remoteAddr as Deno.NetAddr);
  };
  /**
   * Connections per client address. Without a cap one client held every slot: 512 TCP
   * connections that never start their TLS handshake (which Deno cannot cut short) kept
   * everyone else out for as long as that client liked.
   */
  const byAddress = new Map<string, number>();
  const release = (address: string | undefined) => {
    if (address === undefined) return;
    const n = (byAddress.get(address) ?? 1) - 1;
    if (n > 0) byAddress.set(address, n);
    else byAddress.delete(address);
  };
  let refused = 0;
  let closing = false;
  let slotFreed: (() => void) | undefined;
  let lastWarning = 0;
  const warnThrottled = (message: string) => {
    const now = Date.now();
    if (now - lastWarning < 5_000) return;
    lastWarning = now;
    warn(message);
  };

  /**
   * TLS: the handshake completes here before the connection is handed over, and the header
   * timeout counts from accept. Deno cannot close a socket in the middle of a TLS handshake
   * (closing it leaves the socket open until the peer finishes or leaves), so a connection
   * stays counted until its handshake settles, and one that has not settled by the header
   * timeout has its socket shut down (`cut`), which ends the handshake.
   */
  const handshaking = new Set<Deno.TlsConn>();
  const handshakeThenServe = async (conn: Deno.TlsConn, address?: string) => {
    handshaking.add(conn);
    const deadline = Date.now() + headerTimeoutMs;
    // a client that has not finished its handshake by the header timeout is cut off
    const late = setTimeout(() => cut(conn), headerTimeoutMs);
    let ok = false;
    try {
      await conn.handshake();
      ok = !closing;
    } catch { /* the client's business: a failed handshake just ends */ }
    clearTimeout(late);
    handshaking.delete(conn);
    const left = deadline - Date.now();
    if (ok && left > 0) return handleConnection(conn, left, address);
    try {
      conn.close();
    } catch { /* already closed */ }
    release(address);
    slotFreed?.();
  };

  const handleConnection = (conn: Deno.Conn, headerMs = headerTimeoutMs, address?: string) => {
    let inFlight = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let server: ConnServer | undefined = undefined;
    /**
     * The engine is done with the connection: no timer may touch it again. Aborting a finished
     * connection's signal made the engine's abort listener throw BadResource, uncaught, and the
     * process ended (a request whose answer settled after its connection had closed re-armed
     * the idle timer: one TRACE did it).
     */
    let finished = false;
    /** ends the connection at once, whatever the engine is waiting for */
    const abort = new AbortController();
    const drop = () => {
      if (!finished && !abort.signal.aborted) abort.abort();
    };
    const close = () => {
      timer = undefined;
      if (inFlight === 0) drop();
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = finished ? undefined : setTimeout(close, ms);
    };
    arm(headerMs);
    const settled = () => {
      if (--inFlight === 0 && !closing) arm(idleTimeoutMs);
    };
    const perRequest: Handler = async (req, info) => {
      inFlight++;
      clearTimeout(timer);
      timer = undefined;
      info.completed.then(settled, settled);
      // a Request may not carry these (the fetch spec): rebuilding one below would throw
      if (FORBIDDEN_METHODS.has(req.method.toUpperCase())) return methodNotAllowed(req.method);
      let request = req;
      if (req.body && req.method !== "GET" && req.method !== "HEAD") {
        const timed = bodyWithin(req, headerTimeoutMs, drop);
        request = timed.request;
        info.completed.then(timed.stop, timed.stop);
      }
      const res = await app(request, info);
      if (res.headers.get("connection")?.toLowerCase() === "close") {
        const end = () => {
          server?.shutdown().catch(() => {});
          const last = setTimeout(drop, headerTimeoutMs);
          const cleared = () => clearTimeout(last);
          server?.finished.then(cleared, cleared); // (finally() would rethrow a failed finish)
        };
        info.completed.then(end, end);
      }
      return res;
    };
    try {
      server = serveOn(conn, abort.signal, perRequest, onError, () => {});
    } catch (err) {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* already closed */ }
      release(address);
      warnThrottled(`cannot serve a connection: ${(err as Error).message}`);
      return;
    }
    const s = server;
    open.add(s);
    const done = () => {
      finished = true;
      clearTimeout(timer);
      open.delete(s);
      release(address);
      slotFreed?.();
    };
    s.finished.then(done, done);
  };

  const acceptLoop = async () => {
    let backoff = 10;
    while (!closing) {
      if (open.size + handshaking.size >= maxConnections) {
        warnThrottled(`${maxConnections} connections open (the limit): new ones wait`);
        await new Promise<void>((r) => slotFreed = r);
        slotFreed = undefined;
        continue;
      }
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing) break;
        if (isFdExhaustion(err)) {
          warnThrottled(
            `out of file descriptors with ${open.size} connections open: accepting again shortly`,
          );
        } else {
          warnThrottled(`accept failed: ${(err as Error).message}`);
        }
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 1_000);
        continue;
      }
      backoff = 10;
      let address: string | undefined;
      if (perAddress > 0) {
        address = (conn.remoteAddr as Deno.NetAddr).hostname;
        if (uncapped.has(address)) {
          address = undefined;
        } else if ((byAddress.get(address) ?? 0) >= perAddress) {
          refused++;
          warnThrottled(
            `${address} holds ${perAddress} connections (the cap for one address): ` +
              `its new ones are closed (${refused} so far)`,
          );
          cut(conn);
          continue;
        } else {
          byAddress.set(address, (byAddress.get(address) ?? 0) + 1);
        }
      }
      if (options.tls) handshakeThenServe(conn as Deno.TlsConn, address);
      else handleConnection(conn, headerTimeoutMs, address);
    }
  };

  const loop = acceptLoop();
  options.onListen?.(addr);
  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    stopped ??= (async () => {
      closing = true;
      try {
        listener.close();
      } catch { /* already closed */ }
      slotFreed?.();
      await loop;
      for (const conn of handshaking) cut(conn);
      cutter?.flush();
      cutter?.stop();
      await Promise.all([...open].map((s) => s.shutdown().catch(() => {})));
    })();
  return {
    addr,
    get connections() {
      return open.size + handshaking.size;
    },
    get finished() {
      return loop.then(() => stopped);
    },
    shutdown,
  };
}
