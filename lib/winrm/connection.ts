/**
 * One keep-alive TCP or TLS connection to a WinRM listener. One exchange at a time: a single
 * request, or several requests written at once (HTTP/1.1 pipelining) whose responses arrive in
 * order.
 *
 * HTTPS goes through node:tls rather than Deno.connectTls because verification is chosen per
 * credential (system CAs, a pinned PEM, or off) and Deno.connectTls can neither skip
 * verification per connection nor accept a self-signed CA:TRUE certificate; node:tls also
 * hands us the peer certificate DER that channel binding needs. Plain HTTP uses Deno.connect
 * directly (wire.ts): node:net's stream objects cost ~0.5 KB of heap per kept-alive host
 * (bench:winrm-memory: 6.3 -> 5.8 KB) and a little CPU per request.
 */
import net from "node:net";
import tls from "node:tls";
import { Buffer } from "node:buffer";
import { flatString, type HttpResponse, ResponseParser } from "./http.ts";
import {
  CancelledError,
  ConnectionError,
  connectionErrorFrom,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
import { tlsErrorFor, type TlsOptions, verifyPeer } from "./tls_verify.ts";
import type { NtlmSession } from "./ntlm/session.ts";
import { DenoTcpWire, nodeWire, type Wire, type WireEvents } from "./wire.ts";
import type { Sealer } from "./encryption.ts";
import { cancel, postpone, schedule, type Timer } from "./ticker.ts";

export interface ConnectOptions {
  host: string;
  port: number;
  https: boolean;
  tls: TlsOptions;
  connectTimeoutMs: number;
  signal?: AbortSignal;
  /** the largest response body taken (http.ts responseBodyLimit); 64 MiB when absent */
  maxResponseBytes?: number;
}

interface Pending {
  parser: ResponseParser;
  /** responses expected: more than one when requests were pipelined */
  count: number;
  responses: HttpResponse[];
  resolve: (r: HttpResponse[]) => void;
  reject: (e: Error) => void;
  timer: Timer;
  readTimeoutMs: number;
}

let nextId = 1;

/** Maps an abort reason to our error types (a timeout reason stays a TimeoutError). */
export function abortError(signal: AbortSignal): Error {
  const r = signal.reason;
  if (r instanceof TimeoutError || r instanceof CancelledError) return r;
  if (r instanceof DOMException && r.name === "TimeoutError") {
    return new TimeoutError("operation", "the operation timed out (deadline reached)");
  }
  return new CancelledError("the operation was cancelled");
}

export class Connection {
  readonly id = nextId++;
  readonly endpoint: string;
  /** DER of the server certificate (HTTPS only), for NTLM channel binding */
  readonly peerCertificate: Uint8Array | undefined;
  /** set by the transport once the connection-bound NTLM context is established */
  ntlm: NtlmSession | null = null;
  /** set by the transport once a connection-bound Kerberos context is established */
  sealer: Sealer | null = null;
  /** set once a request on this connection was answered other than 401 (see transport.ts) */
  credentialsAccepted = false;
  requests = 0;
  /** whether the last request received any response byte (stale keep-alive detection) */
  lastResponseStarted = false;
  /** complete responses received in the current or last exchange */
  responsesReceived = 0;
  #wire: Wire;
  #dead = false;
  #pending: Pending | null = null;
  #idleTimer: Timer | undefined;
  #closedHooks: (() => void)[] | null = [];
  readonly #maxResponseBytes: number | undefined;

  private constructor(
    socket: net.Socket | Deno.TcpConn,
    endpoint: string,
    maxResponseBytes: number | undefined,
    peerCertificate?: Uint8Array,
  ) {
    this.endpoint = endpoint;
    this.#maxResponseBytes = maxResponseBytes;
    this.peerCertificate = peerCertificate;
    const on: WireEvents = {
      data: (chunk) => this.#onData(chunk),
      end: (err) => this.#onClose(err),
      closed: () => this.#closed(),
      wanted: () => this.#pending !== null,
    };
    this.#wire = socket instanceof net.Socket ? nodeWire(socket, on) : new DenoTcpWire(socket, on);
  }

  static open(opts: ConnectOptions): Promise<Connection> {
    const endpoint = flatString(
      `${opts.https ? "https" : "http"}://${
        net.isIPv6(opts.host) ? `[${opts.host}]` : opts.host
      }:${opts.port}`,
    );
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(abortError(opts.signal));
      let tcpUp = false;
      let settled = false;
      let socket: net.Socket | undefined;
      /** stops a Deno.connect in progress (HTTP) */
      let stop: AbortController | undefined;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        cleanup();
        socket?.on("error", () => {}); // late errors of a discarded socket
        socket?.destroy();
        stop?.abort();
        reject(err);
      };
      const onAbort = () => fail(abortError(opts.signal!));
      const timer = setTimeout(
        () =>
          fail(
            new TimeoutError(
              "connect",
              `${endpoint}: no ${
                tcpUp ? "TLS handshake" : "TCP connection"
              } within ${opts.connectTimeoutMs} ms`,
            ),
          ),
        opts.connectTimeoutMs,
      );
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener("abort", onAbort);
        socket?.removeListener("error", onError);
      };
      const onError = (err: Error) =>
        fail(tcpUp && opts.https ? tlsErrorFor(err, endpoint) : connectionErrorFrom(err, endpoint));
      const done = (peer?: Uint8Array) => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve(new Connection(socket!, endpoint, opts.maxResponseBytes, peer));
      };
      if (opts.https) {
        const t = tls.connect({
          host: opts.host,
          port: opts.port,
          servername: opts.tls.servername ?? (net.isIP(opts.host) ? undefined : opts.host),
          ca: opts.tls.verify === "pinned" ? opts.tls.caPem : undefined,
          // verified by hand in verifyPeer so the error can name the exact problem
          rejectUnauthorized: false,
        });
        socket = t;
        t.once("connect", () => (tcpUp = true));
        t.once("secureConnect", () => {
          tcpUp = true;
          const cert = t.getPeerCertificate();
          const problem = verifyPeer(t, cert, opts.tls, endpoint);
          if (problem) return fail(problem);
          done(cert?.raw ? new Uint8Array(cert.raw) : undefined);
        });
        socket.on("error", onError);
        opts.signal?.addEventListener("abort", onAbort, { once: true });
      } else {
        stop = new AbortController();
        Deno.connect({ hostname: opts.host, port: opts.port, signal: stop.signal }).then((conn) => {
          if (settled) return conn.close(); // timed out or aborted as it connected
          settled = true;
          cleanup();
          resolve(new Connection(conn, endpoint, opts.maxResponseBytes));
        }, (err) => {
          if (settled) return;
          settled = true;
          cleanup();
          reject(connectionErrorFrom(err, endpoint));
        });
        opts.signal?.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  get alive(): boolean {
    return !this.#dead;
  }

  /** Runs `fn` once, when the connection is closed (by us or the peer); at once if it is. */
  onClosed(fn: () => void) {
    if (this.#closedHooks) this.#closedHooks.push(fn);
    else fn();
  }

  #closed() {
    const hooks = this.#closedHooks;
    this.#closedHooks = null;
    for (const fn of hooks ?? []) fn();
  }

  /** Sends one request and resolves with the complete response. */
  request(data: Uint8Array, readTimeoutMs: number, signal?: AbortSignal): Promise<HttpResponse> {
    return new Promise((resolve, reject) =>
      this.#begin(data, 1, readTimeoutMs, signal, (r) => resolve(r[0]), reject)
    );
  }

  /**
   * Writes `count` requests already concatenated in `data` in one go and resolves with their
   * responses in order. The read timeout runs from the last byte received, as for one request.
   */
  pipeline(
    data: Uint8Array,
    count: number,
    readTimeoutMs: number,
    signal?: AbortSignal,
  ): Promise<HttpResponse[]> {
    return new Promise((resolve, reject) =>
      this.#begin(data, count, readTimeoutMs, signal, resolve, reject)
    );
  }

  #begin(
    data: Uint8Array,
    count: number,
    readTimeoutMs: number,
    signal: AbortSignal | undefined,
    resolve: (r: HttpResponse[]) => void,
    reject: (e: Error) => void,
  ) {
    if (this.#pending) throw new Error("connection already has a request in flight");
    this.#clearIdle();
    this.requests += count;
    this.lastResponseStarted = false;
    this.responsesReceived = 0;
    if (this.#dead) {
      return reject(new ConnectionError("closed", `${this.endpoint}: connection closed`));
    }
    if (signal?.aborted) return reject(abortError(signal));
    const onAbort = () => this.#fail(abortError(signal!));
    signal?.addEventListener("abort", onAbort, { once: true });
    this.#pending = {
      parser: new ResponseParser(this.#maxResponseBytes),
      count,
      responses: [],
      resolve: (r) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(r);
      },
      reject: (e) => {
        signal?.removeEventListener("abort", onAbort);
        reject(e);
      },
      timer: schedule(readTimeoutMs, () => this.#readTimeout()),
      readTimeoutMs,
    };
    this.#wire.write(data);
    this.#wire.expect();
  }

  /** Keeps an idle connection from holding the process open; closes it after `ms`. */
  park(ms: number, onExpire: () => void) {
    this.#clearIdle();
    this.#wire.unref();
    this.#idleTimer = schedule(ms, () => {
      this.#idleTimer = undefined;
      this.close();
      onExpire();
    });
  }

  close() {
    this.#clearIdle();
    this.#dead = true;
    this.#wire.destroy();
    this.#closed();
  }

  #clearIdle() {
    if (this.#idleTimer !== undefined) {
      cancel(this.#idleTimer);
      this.#idleTimer = undefined;
      this.#wire.ref();
    }
  }

  #readTimeout() {
    const p = this.#pending;
    if (!p) return;
    this.#fail(
      new TimeoutError(
        "read",
        `${this.endpoint}: no response data for ${p.readTimeoutMs} ms`,
      ),
    );
  }

  #fail(err: Error) {
    const p = this.#pending;
    this.#pending = null;
    this.close();
    if (p) {
      cancel(p.timer);
      p.reject(err);
    }
  }

  #onData(chunk: Buffer) {
    const p = this.#pending;
    if (!p) {
      this.close(); // unsolicited bytes: the stream is out of sync, never reuse it
      return;
    }
    this.lastResponseStarted = true;
    let data: Buffer | null = chunk;
    while (data) {
      let res: HttpResponse | null;
      try {
        res = p.parser.push(data);
      } catch (err) {
        return this.#fail(this.#named(err as Error));
      }
      if (!res) {
        postpone(p.timer, p.readTimeoutMs);
        return;
      }
      data = p.parser.rest;
      p.responses.push(res);
      this.responsesReceived++;
      if (p.responses.length === p.count) {
        if (data) {
          return this.#fail(
            new ProtocolError(`${this.endpoint}: unexpected bytes after the HTTP response`),
          );
        }
        cancel(p.timer);
        this.#pending = null;
        if (!res.keepAlive) this.close();
        p.resolve(p.responses);
        return;
      }
      if (!res.keepAlive) return this.#fail(this.#cutShort(p));
      p.parser = new ResponseParser(this.#maxResponseBytes);
    }
    postpone(p.timer, p.readTimeoutMs);
  }

  /** A parser's ProtocolError, naming the endpoint. */
  #named(err: Error): Error {
    return err instanceof ProtocolError
      ? new ProtocolError(`${this.endpoint}: ${err.message}`, err.httpStatus)
      : err;
  }

  /** The server ended the connection before answering every pipelined request. */
  #cutShort(p: Pending): ConnectionError {
    return new ConnectionError(
      "closed",
      `${this.endpoint}: the server closed the connection after ${p.responses.length} of ` +
        `${p.count} pipelined responses`,
    );
  }

  #onClose(err: Error | null) {
    this.#dead = true;
    const p = this.#pending;
    if (!p) return;
    if (err) return this.#fail(connectionErrorFrom(err, this.endpoint));
    this.#pending = null;
    cancel(p.timer);
    this.#wire.destroy();
    try {
      p.responses.push(p.parser.end());
    } catch (e) {
      // nothing at all arrived: the peer closed (a stale keep-alive or a dropped request)
      return p.reject(
        p.parser.started
          ? this.#named(e as Error)
          : p.responses.length
          ? this.#cutShort(p)
          : new ConnectionError("closed", `${this.endpoint}: connection closed by the server`),
      );
    }
    if (p.responses.length === p.count) p.resolve(p.responses);
    else p.reject(this.#cutShort(p));
  }
}
