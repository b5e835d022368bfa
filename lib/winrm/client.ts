/**
 * WinRM (WS-Management) client for WMI queries: WQL enumeration and Get, over Basic or NTLM,
 * HTTP or HTTPS, on pooled keep-alive connections. Errors are the typed classes of
 * errors.ts; none carries the password (it lives only in private fields).
 */
import { createHash, randomBytes } from "node:crypto";
import { abortError, Connection } from "./connection.ts";
import { type Envelope, EnvelopeBuilder, wmiResourceUri } from "./envelope.ts";
import { flatString, responseBodyLimit } from "./http.ts";
import {
  checkLimits,
  DEFAULT_ENUMERATION_LIMITS,
  enumerateBatches,
  type EnumerationLimits,
} from "./enumerate.ts";
import {
  CancelledError,
  ConfigError,
  ProtocolError,
  TimeoutError,
  WsmanFaultError,
} from "./errors.ts";
import {
  type EnumerationBatch,
  enumerationBatch,
  faultOf,
  getItem,
  parseEnvelope,
  relatesToOf,
  type WmiItem,
} from "./parse.ts";
import { ConnectionPool, IDLE_TIMEOUT_MS, type PoolStats, sharedPool } from "./pool.ts";
import { checkPinned, type TlsOptions } from "./tls_verify.ts";
import { Transport, type TransportResult } from "./transport.ts";
import { kerberosClientFor } from "../kerberos/client.ts";
import type { NameServer } from "../kerberos/kdc_transport.ts";
import { dnsPtrResolver, type PtrResolver, type SpnChoice } from "./kerberos_auth.ts";
import { cancel, schedule } from "./ticker.ts";

export interface WinrmTimeouts {
  /** TCP connect + TLS handshake */
  connectMs?: number;
  /** longest silence while waiting for response bytes */
  readMs?: number;
  /** a whole public call (an enumeration with all its Pulls, or a Get) */
  operationMs?: number;
}

export interface WinrmClientOptions {
  host: string;
  /** default 5986 with https, 5985 without */
  port?: number;
  https?: boolean;
  auth: "basic" | "ntlm" | "kerberos";
  /** auth "kerberos": realm, KDCs (DNS SRV when none), SPN choice; the user is the principal */
  kerberos?: WinrmKerberosOptions;
  /** "user", "DOMAIN\\user" or "user@domain" */
  username: string;
  password: string;
  domain?: string | null;
  tls?: Partial<TlsOptions>;
  /** lets Basic run over plain HTTP (the server must allow it too) */
  allowUnencrypted?: boolean;
  timeouts?: WinrmTimeouts;
  /** share warm connections with other clients for the same target and credential */
  shared?: boolean;
  pool?: { maxIdle?: number; idleTimeoutMs?: number };
  /** w:OperationTimeout in seconds (server side); default 20, like pywinrm */
  operationTimeoutS?: number;
  maxEnvelopeSize?: number;
  locale?: string;
  /** bound for the best-effort Release of an abandoned enumeration */
  releaseTimeoutMs?: number;
  /**
   * Pipeline the queries of enumerateAll() on one connection (default true). A target that
   * turns out not to support it is remembered and served one request at a time anyway.
   */
  pipelining?: boolean;
  /** caps per enumeration (default DEFAULT_ENUMERATION_LIMITS); EnumerateOptions may lower them */
  limits?: Partial<EnumerationLimits>;
}

export interface WinrmKerberosOptions {
  realm?: string | null;
  /** "host[:port]" each */
  kdcs?: string[] | null;
  /** "host" (HTTP/<host>, the default), "reverse" (the IP's PTR name) or a fixed SPN */
  spn?: SpnChoice | null;
  /** the host's DNS name when `host` is an address (the SPN is then HTTP/<hostName>) */
  hostName?: string | null;
  /** the DNS server for the SRV look-up of KDCs (tests) */
  nameServer?: NameServer;
  /** the label of sealed bodies (default application/HTTP-Kerberos-session-encrypted) */
  protocol?: string;
  /** the clock for tickets and authenticators (tests offset it) */
  now?: () => number;
  kdcTimeoutMs?: number;
  /** kerberos.allow_rc4: an RC4-only account may pre-authenticate (RFC 4757) */
  allowRc4?: boolean;
  /** PTR look-ups for spn "reverse"; default the system's resolver, or `nameServer` if set */
  resolvePtr?: PtrResolver;
}

export interface EnumerateOptions {
  /** items per response (Enumerate and each Pull); default 32000 like WinRb/txwinrm */
  maxElements?: number;
  /** WMI namespace, default root/cimv2 */
  namespace?: string;
  signal?: AbortSignal;
  /** this call's caps, over the client's */
  limits?: Partial<EnumerationLimits>;
}

/** A query of enumerateAllSettled() read only up to its first response. */
export interface SettledQuery {
  wql: string;
  /** MaxElements of the Enumerate; what does not fit is released, not pulled */
  firstBatch?: number;
}

export interface SettledResult {
  items: WmiItem[];
  /** the fault that answered this query (a missing class, access denied) */
  error?: WsmanFaultError;
  /** more items were there than `firstBatch` */
  truncated?: boolean;
}

export interface ClientCounters {
  enumerations: number;
  pulls: number;
  releases: number;
  gets: number;
}

const DEFAULTS = { connectMs: 10_000, readMs: 30_000, operationMs: 60_000 };
const SALT = randomBytes(16);

export class WinrmClient {
  readonly host: string;
  readonly port: number;
  readonly https: boolean;
  readonly counters: ClientCounters = { enumerations: 0, pulls: 0, releases: 0, gets: 0 };
  readonly #transport: Transport;
  readonly #builder: EnvelopeBuilder;
  readonly #pool: ConnectionPool;
  readonly #ownPool: boolean;
  readonly #operationMs: number;
  readonly #releaseTimeoutMs: number;
  readonly #limits: EnumerationLimits;
  /** scheme://host:port, for messages */
  readonly endpoint: string;

  constructor(opts: WinrmClientOptions) {
    if (!opts.host) throw new ConfigError("a host is required");
    if (!opts.username) throw new ConfigError("a user name is required");
    this.host = opts.host;
    this.https = opts.https ?? false;
    this.port = opts.port || (this.https ? 5986 : 5985);
    const t = { ...DEFAULTS, ...opts.timeouts };
    this.#operationMs = t.operationMs;
    this.#releaseTimeoutMs = opts.releaseTimeoutMs ?? 2_000;
    const tls: TlsOptions = { verify: opts.tls?.verify ?? "system", ...opts.tls } as TlsOptions;
    tls.fingerprints = checkPinned(tls);
    const maxEnvelopeSize = opts.maxEnvelopeSize ?? 153_600;
    const maxResponseBytes = responseBodyLimit(maxEnvelopeSize);
    const open = (signal?: AbortSignal) =>
      Connection.open({
        host: this.host,
        port: this.port,
        https: this.https,
        tls,
        connectTimeoutMs: t.connectMs,
        signal,
        maxResponseBytes,
      });
    const poolOpts = {
      maxIdle: opts.pool?.maxIdle ?? 4,
      idleTimeoutMs: opts.pool?.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    };
    const key = poolKey(opts, this.port, tls);
    this.#ownPool = !opts.shared;
    this.#pool = opts.shared
      ? sharedPool(key, open, poolOpts)
      : new ConnectionPool(key, open, poolOpts);
    this.#transport = new Transport({
      host: this.host,
      port: this.port,
      https: this.https,
      auth: {
        scheme: opts.auth,
        username: opts.username,
        domain: opts.domain,
        allowUnencrypted: opts.allowUnencrypted ?? false,
        kerberos: opts.auth === "kerberos"
          ? {
            client: kerberosClientFor({
              principal: opts.username,
              password: opts.password,
              realm: opts.kerberos?.realm ?? opts.domain,
              kdcs: opts.kerberos?.kdcs,
              nameServer: opts.kerberos?.nameServer,
              now: opts.kerberos?.now,
              kdcTimeoutMs: opts.kerberos?.kdcTimeoutMs,
              allowRc4: opts.kerberos?.allowRc4,
            }),
            spn: opts.kerberos?.spn || "host",
            hostName: opts.kerberos?.hostName ?? undefined,
            protocol: opts.kerberos?.protocol,
            now: opts.kerberos?.now,
            resolvePtr: opts.kerberos?.resolvePtr ?? dnsPtrResolver(opts.kerberos?.nameServer),
          }
          : undefined,
      },
      password: opts.password,
      pool: this.#pool,
      readTimeoutMs: t.readMs,
      pipelining: opts.pipelining ?? true,
    });
    this.#limits = limitsOf(DEFAULT_ENUMERATION_LIMITS, opts.limits);
    const scheme = this.https ? "https" : "http";
    const hostPart = this.host.includes(":") ? `[${this.host}]` : this.host;
    this.endpoint = flatString(`${scheme}://${hostPart}:${this.port}`);
    this.#builder = new EnvelopeBuilder({
      to: `${this.endpoint}/wsman`,
      operationTimeoutS: opts.operationTimeoutS ?? 20,
      maxEnvelopeSize,
      locale: opts.locale ?? "en-US",
    });
  }

  /** Runs a WQL query and returns every instance (all Pulls done). */
  enumerate(wql: string, opts: EnumerateOptions = {}): Promise<WmiItem[]> {
    return this.#deadline(opts.signal, async (signal) => {
      // Fast path: a poll's results fit the EnumerateResponse (OptimizeEnumeration), so the
      // generator below, with its per-batch promises, is only entered when Pulls follow.
      this.counters.enumerations++;
      const uri = wmiResourceUri(opts.namespace ?? "root/cimv2");
      const max = opts.maxElements ?? 32_000;
      const first = enumerationBatch(
        await this.#call(this.#builder.enumerate(uri, wql, max), signal),
      );
      if (first.endOfSequence) return this.#capped(first, wql, opts);
      const out: WmiItem[] = [];
      for await (const batch of this.#batches(wql, opts, signal, false, first)) {
        for (const item of batch) out.push(item);
      }
      return out;
    });
  }

  /**
   * Runs independent WQL queries and returns each one's instances, in order. Their
   * Enumerates are pipelined (one round trip for all; see transport.ts), Pulls for a result
   * too large for its EnumerateResponse follow one at a time. The operation deadline covers
   * the whole set; the first query that fails (in order) decides the error.
   */
  enumerateAll(wqls: string[], opts: EnumerateOptions = {}): Promise<WmiItem[][]> {
    return this.#deadline(opts.signal, async (signal) => {
      this.counters.enumerations += wqls.length;
      const uri = wmiResourceUri(opts.namespace ?? "root/cimv2");
      const max = opts.maxElements ?? 32_000;
      const sent = wqls.map((wql) => this.#builder.enumerate(uri, wql, max));
      const results = await this.#transport.postAll(sent.map((e) => e.xml), signal);
      const out: WmiItem[][] = [];
      for (let i = 0; i < results.length; i++) {
        let first: EnumerationBatch;
        try {
          first = enumerationBatch(this.#bodyOf(results[i], sent[i].messageId));
        } catch (err) {
          this.#abandon(results, sent, i + 1, uri);
          throw err;
        }
        if (first.endOfSequence) {
          try {
            out.push(this.#capped(first, wqls[i], opts));
          } catch (err) {
            this.#abandon(results, sent, i + 1, uri);
            throw err;
          }
          continue;
        }
        const items: WmiItem[] = [];
        for await (const batch of this.#batches(wqls[i], opts, signal, false, first)) {
          for (const item of batch) items.push(item);
        }
        out.push(items);
      }
      return out;
    });
  }

  /**
   * Like enumerateAll(), but a query the server answers with a WS-Management fault (a class
   * this Windows lacks, access denied to it) gives its error in place of its items instead
   * of failing the set; transport, authentication and timeout errors still throw. A query
   * given as `{ wql, firstBatch }` reads only its EnumerateResponse, at most `firstBatch`
   * items, and releases the rest (`truncated` says so): a bounded read of a large result.
   */
  enumerateAllSettled(
    queries: (string | SettledQuery)[],
    opts: EnumerateOptions = {},
  ): Promise<SettledResult[]> {
    return this.#deadline(opts.signal, async (signal) => {
      const qs = queries.map((q) => typeof q === "string" ? { wql: q } : q);
      this.counters.enumerations += qs.length;
      const uri = wmiResourceUri(opts.namespace ?? "root/cimv2");
      const max = opts.maxElements ?? 32_000;
      const sent = qs.map((q) => this.#builder.enumerate(uri, q.wql, q.firstBatch ?? max));
      const results = await this.#transport.postAll(sent.map((e) => e.xml), signal);
      const out: SettledResult[] = [];
      for (let i = 0; i < results.length; i++) {
        let first: EnumerationBatch;
        try {
          first = enumerationBatch(this.#bodyOf(results[i], sent[i].messageId));
        } catch (err) {
          if (err instanceof WsmanFaultError) {
            out.push({ items: [], error: err });
            continue;
          }
          this.#abandon(results, sent, i + 1, uri);
          throw err;
        }
        if (first.endOfSequence) {
          out.push({ items: first.items.slice(0, qs[i].firstBatch ?? first.items.length) });
          continue;
        }
        if (qs[i].firstBatch !== undefined) {
          if (first.context) void this.#release(uri, first.context);
          out.push({ items: first.items.slice(0, qs[i].firstBatch), truncated: true });
          continue;
        }
        const items: WmiItem[] = [];
        try {
          for await (const batch of this.#batches(qs[i].wql, opts, signal, false, first)) {
            for (const item of batch) items.push(item);
          }
        } catch (err) {
          if (!(err instanceof WsmanFaultError)) {
            this.#abandon(results, sent, i + 1, uri);
            throw err;
          }
          out.push({ items: [], error: err });
          continue;
        }
        out.push({ items });
      }
      return out;
    });
  }

  /** A whole result in one batch, checked against the item cap. */
  #capped(batch: EnumerationBatch, wql: string, opts: EnumerateOptions): WmiItem[] {
    const limits = opts.limits ? limitsOf(this.#limits, opts.limits) : this.#limits;
    checkLimits(limits, batch.items.length, 0, () => this.#what(wql));
    return batch.items;
  }

  #what(wql: string): string {
    return `${this.endpoint}: WQL ${
      JSON.stringify(wql.length > 80 ? wql.slice(0, 77) + "..." : wql)
    }`;
  }

  /** Releases the open enumeration contexts among results (from `from` on) that will not be read. */
  #abandon(results: TransportResult[], sent: Envelope[], from: number, uri: string) {
    for (let i = from; i < results.length; i++) {
      try {
        const batch = enumerationBatch(this.#bodyOf(results[i], sent[i].messageId));
        if (!batch.endOfSequence && batch.context) void this.#release(uri, batch.context);
      } catch { /* a fault holds no context */ }
    }
  }

  /**
   * Streams a WQL query batch by batch. Breaking out early releases the server-side
   * context. The operation timeout applies to each request here, not to the whole stream.
   */
  async *enumerateBatches(wql: string, opts: EnumerateOptions = {}): AsyncGenerator<WmiItem[]> {
    yield* this.#batches(wql, opts, opts.signal, true);
  }

  #batches(
    wql: string,
    opts: EnumerateOptions,
    signal?: AbortSignal,
    perRequestDeadline = false,
    first?: EnumerationBatch,
  ) {
    if (!first) this.counters.enumerations++;
    const resourceUri = wmiResourceUri(opts.namespace ?? "root/cimv2");
    const call = perRequestDeadline
      ? (env: Envelope, s?: AbortSignal) => this.#deadline(s, (d) => this.#call(env, d))
      : (env: Envelope, s?: AbortSignal) => this.#call(env, s);
    return enumerateBatches(
      {
        builder: this.#builder,
        call,
        release: (uri, context) => this.#release(uri, context),
        onPull: () => this.counters.pulls++,
        limits: limitsOf(this.#limits, opts.limits),
        describe: () => this.#what(wql),
      },
      resourceUri,
      wql,
      opts.maxElements ?? 32_000,
      signal,
      first,
    );
  }

  /** WS-Transfer Get of one instance: a class name (in `namespace`) or a full ResourceURI. */
  get(
    resource: string,
    selectors?: Record<string, string | number>,
    opts: { namespace?: string; signal?: AbortSignal } = {},
  ): Promise<WmiItem> {
    this.counters.gets++;
    const uri = resource.includes("://")
      ? resource
      : wmiResourceUri(opts.namespace ?? "root/cimv2", resource);
    return this.#deadline(
      opts.signal,
      async (signal) => getItem(await this.#call(this.#builder.get(uri, selectors), signal)),
    );
  }

  stats(): PoolStats {
    return this.#pool.snapshot();
  }

  /** Closes this client's connections (a shared pool stays open for other clients). */
  close() {
    if (this.#ownPool) this.#pool.destroy();
  }

  // deno-lint-ignore no-explicit-any
  async #call(env: Envelope, signal?: AbortSignal): Promise<any> {
    return this.#bodyOf(await this.#transport.post(env.xml, signal), env.messageId);
  }

  /**
   * The SOAP body of a response, or the fault or protocol error it carries. A response whose
   * RelatesTo names another request than the one it answers (`messageId`) is refused: on a
   * pipelined connection that means the answers are out of step, and reading it would give
   * one query's instances to another, so the connection is closed. A response without
   * RelatesTo is taken.
   */
  // deno-lint-ignore no-explicit-any
  #bodyOf(res: TransportResult, messageId: string): any {
    if (res.status !== 200 && !/Envelope/.test(res.xml)) {
      throw new ProtocolError(
        `${this.endpoint}: HTTP ${res.status} from the WS-Management service` +
          (res.xml.trim() ? `: ${res.xml.trim().slice(0, 200)}` : ""),
        res.status,
      );
    }
    let envelope;
    try {
      envelope = parseEnvelope(res.xml);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // a truncated or garbled envelope: say whose
      throw new ProtocolError(`${this.endpoint}: ${err.message}`, res.status);
    }
    const relatesTo = relatesToOf(envelope.header);
    if (relatesTo !== null && relatesTo.toLowerCase() !== messageId) {
      // what else the connection carries is out of step too: it is not used again
      this.#pool.evict(res.conn);
      throw new ProtocolError(
        `${this.endpoint}: the response relates to request ${
          JSON.stringify(relatesTo.slice(0, 60))
        }, not to the one it answers (${messageId}): the server's answers are out of step`,
        res.status,
      );
    }
    const body = envelope.body;
    const fault = faultOf(body);
    if (fault) throw new WsmanFaultError(fault, res.status);
    if (res.status !== 200) {
      throw new ProtocolError(
        `${this.endpoint}: HTTP ${res.status} with a SOAP body that is not a fault`,
        res.status,
      );
    }
    return body;
  }

  async #release(resourceUri: string, context: string): Promise<void> {
    this.counters.releases++;
    try {
      await this.#deadline(
        undefined,
        (s) => this.#call(this.#builder.release(resourceUri, context), s),
        this.#releaseTimeoutMs,
      );
    } catch { /* best effort: the server expires the context anyway */ }
  }

  /** The caller's abort reason as our error, naming the endpoint. */
  #aborted(signal: AbortSignal): Error {
    const err = abortError(signal);
    if (err.message.startsWith(this.endpoint)) return err;
    return err instanceof TimeoutError
      ? new TimeoutError(
        err.phase,
        `${this.endpoint}: ${
          signal.reason instanceof TimeoutError
            ? err.message
            : "timed out: the caller's deadline passed before the result arrived"
        }`,
      )
      : new CancelledError(`${this.endpoint}: ${err.message}`);
  }

  /** Runs fn under the operation deadline, linked to the caller's signal. */
  async #deadline<T>(
    outer: AbortSignal | undefined,
    fn: (signal: AbortSignal) => Promise<T>,
    ms = this.#operationMs,
  ): Promise<T> {
    if (outer?.aborted) throw this.#aborted(outer);
    const ctl = new AbortController();
    const timer = schedule(
      ms,
      () => ctl.abort(new TimeoutError("operation", `${this.endpoint}: no result within ${ms} ms`)),
    );
    const onAbort = () => ctl.abort(this.#aborted(outer!));
    outer?.addEventListener("abort", onAbort, { once: true });
    try {
      return await fn(ctl.signal);
    } finally {
      cancel(timer);
      outer?.removeEventListener("abort", onAbort);
    }
  }
}

/** Identity of a pool: everything that decides whether a connection may be reused. */
function poolKey(opts: WinrmClientOptions, port: number, tls: TlsOptions): string {
  const secret = createHash("sha256").update(SALT).update(opts.password).update(tls.caPem ?? "")
    .update((tls.fingerprints ?? []).join(",")).digest("base64url").slice(0, 16);
  return [
    opts.https ? "https" : "http",
    opts.host,
    port,
    opts.auth,
    `${opts.domain ?? ""}\\${opts.username}`,
    opts.auth === "kerberos"
      ? JSON.stringify([opts.kerberos?.realm, opts.kerberos?.kdcs, opts.kerberos?.spn])
      : "",
    tls.verify,
    tls.servername ?? "",
    opts.maxEnvelopeSize ?? "",
    secret,
  ].join("|");
}

function limitsOf(
  base: EnumerationLimits,
  over: Partial<EnumerationLimits> | undefined,
): EnumerationLimits {
  const out = { ...base };
  for (const k of ["maxItems", "maxPulls"] as const) {
    const v = over?.[k];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new ConfigError(`enumeration limit ${k} must be a non-negative integer, not ${v}`);
    }
    out[k] = v;
  }
  return out;
}
