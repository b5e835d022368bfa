/**
 * POSTs SOAP envelopes to /wsman over pooled keep-alive connections, with authentication:
 *
 * - Basic: `Authorization: Basic` on every request, pre-emptively (no extra round trip).
 *   Refused over plain HTTP unless the profile allows unencrypted traffic.
 * - NTLM (raw NTLMSSP tokens under the `Negotiate` scheme, which Windows offers; `NTLM`
 *   gets a fresh 401): the context belongs to the TCP connection, so a new connection costs
 *   two extra round trips (NEGOTIATE -> CHALLENGE, AUTHENTICATE) and later requests on it
 *   carry no Authorization header. Over HTTP every request/response is sealed (MS-WSMV
 *   §2.2.9.1.1 multipart/encrypted) and the AUTHENTICATE leg has an empty body, as pywinrm
 *   does; over HTTPS the AUTHENTICATE leg carries the first real request and the server
 *   certificate is bound into the context (channel binding).
 *
 * A 401 becomes an AuthenticationError at once: never a second try with the same password,
 * which could lock a domain account. For the same reason a connection whose credentials the
 * server has not yet accepted carries one request alone (Basic sends the password with every
 * request, so a pipelined batch would cost one failed logon per request); the rest of a batch
 * follows pipelined once that request was answered with something other than a 401. NTLM
 * authenticates the connection itself, once, before anything is pipelined on it.
 *
 * postAll() pipelines independent envelopes (a poll's queries): every request is written in
 * one go and the responses are read in order (HTTP/1.1 pipelining, RFC 9112 §9.3.2), so a
 * poll costs one round trip and one write instead of four. Under NTLM each request is still
 * sealed on its own, in order, with its own sequence number. A server that answers the first
 * request of a batch and then closes, garbles or ignores the rest does not pipeline: the
 * pool remembers that and the batch is re-sent one request at a time.
 */
import { Buffer } from "node:buffer";
import {
  decryptMessageWith,
  ENCRYPTED_CONTENT_TYPE,
  encryptedContentType,
  encryptedLength,
  encryptMessageInto,
} from "./encryption.ts";
import {
  buildRequest,
  encodeUtf8All,
  flatString,
  header,
  type HttpResponse,
  offered,
  requestHead,
  requestHeadPrefix,
  SOAP_CONTENT_TYPE,
  writeAscii,
} from "./http.ts";
import type { Connection } from "./connection.ts";
import type { ConnectionPool } from "./pool.ts";
import {
  AuthenticationError,
  ConfigError,
  ConnectionError,
  ProtocolError,
  TimeoutError,
} from "./errors.ts";
import { ntlmHandshake, sealRequestInto, unsealResponse } from "./ntlm_auth.ts";
import type { KerberosClient } from "../kerberos/client.ts";
import {
  kerberosHandshake,
  KerberosSealer,
  mapKerberosError,
  type PtrResolver,
  resolveSpn,
  type SpnChoice,
} from "./kerberos_auth.ts";

const USER_AGENT = "NMSlite WinRM";

export interface TransportAuth {
  scheme: "basic" | "ntlm" | "kerberos";
  username: string;
  domain?: string | null;
  allowUnencrypted: boolean;
  /** scheme "kerberos": the principal's ticket cache and how to name the service */
  kerberos?: {
    client: KerberosClient;
    spn?: SpnChoice;
    /** the host's DNS name when the connection goes to its address */
    hostName?: string;
    /** the sealed bodies' label; default application/HTTP-Kerberos-session-encrypted */
    protocol?: string;
    now?: () => number;
    /** PTR look-ups for spn "reverse" (default: the system's resolver) */
    resolvePtr?: PtrResolver;
  };
}

export interface TransportResult {
  status: number;
  xml: string;
  /** the connection that carried it, back in the pool by now (see ConnectionPool.evict) */
  conn: Connection;
}

export class Transport {
  readonly #hostHeader: string;
  readonly #host: string;
  readonly #https: boolean;
  readonly #auth: TransportAuth;
  readonly #password: string;
  readonly #basicHeader: string | null;
  readonly #pool: ConnectionPool;
  readonly #readTimeoutMs: number;
  readonly #pipelining: boolean;
  /** request heads up to Content-Length: plain SOAP (with Basic credentials), sealed SOAP */
  readonly #soapHead: string;
  readonly #sealedHead: string;
  readonly #krbSealedHeads = new Map<string, string>();
  #spn: string | null = null;

  constructor(opts: {
    host: string;
    port: number;
    https: boolean;
    auth: TransportAuth;
    password: string;
    pool: ConnectionPool;
    readTimeoutMs: number;
    /** false sends postAll()'s envelopes one at a time */
    pipelining?: boolean;
  }) {
    this.#host = opts.host;
    this.#hostHeader = flatString(
      `${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}`,
    );
    this.#https = opts.https;
    this.#auth = opts.auth;
    this.#password = opts.password;
    this.#pool = opts.pool;
    this.#readTimeoutMs = opts.readTimeoutMs;
    this.#pipelining = opts.pipelining ?? true;
    if (opts.auth.scheme === "basic" && !opts.https && !opts.auth.allowUnencrypted) {
      throw new ConfigError(
        "Basic authentication over plain HTTP would send the password in clear text: use " +
          "HTTPS, NTLM (which encrypts the messages), or allow unencrypted traffic explicitly",
      );
    }
    this.#basicHeader = opts.auth.scheme === "basic"
      ? "Basic " +
        Buffer.from(`${basicUser(opts.auth)}:${opts.password}`, "utf8").toString("base64")
      : null;
    this.#soapHead = requestHeadPrefix(
      this.#hostHeader,
      this.#headers(SOAP_CONTENT_TYPE, this.#basicHeader),
    );
    this.#sealedHead = requestHeadPrefix(
      this.#hostHeader,
      this.#headers(ENCRYPTED_CONTENT_TYPE, null),
    );
  }

  get pool(): ConnectionPool {
    return this.#pool;
  }

  /** Sends one envelope and returns the status and (decrypted) response XML. */
  async post(soap: string, signal?: AbortSignal): Promise<TransportResult> {
    return (await this.#run([soap], { pipelined: false, answered: 0 }, signal))[0];
  }

  /**
   * Sends independent envelopes and returns their results in order: pipelined on one
   * connection unless the target is known not to pipeline (or pipelining is off).
   */
  async postAll(soaps: string[], signal?: AbortSignal): Promise<TransportResult[]> {
    if (soaps.length < 2 || !this.#pipelining || this.#pool.stats.pipelining === "off") {
      return this.#oneByOne(soaps, signal);
    }
    const batch = { pipelined: false, answered: 0 };
    try {
      const res = await this.#run(soaps, batch, signal);
      if (batch.pipelined) this.#pool.stats.pipelining = "on";
      return res;
    } catch (err) {
      if (
        batch.pipelined && this.#pool.stats.pipelining === "unknown" && batch.answered > 0 &&
        pipeliningFailure(err)
      ) {
        this.#pool.stats.pipelining = "off";
        return this.#oneByOne(soaps, signal);
      }
      throw err;
    }
  }

  async #oneByOne(soaps: string[], signal?: AbortSignal): Promise<TransportResult[]> {
    const out: TransportResult[] = [];
    for (const soap of soaps) out.push(await this.post(soap, signal));
    return out;
  }

  /**
   * One exchange on a pooled connection. A kept-alive connection the server closed while
   * idle fails before any response byte; those requests never ran, so they are retried once
   * on a new connection. `batch` reports whether requests went out pipelined and how many
   * responses the failed connection had delivered.
   */
  async #run(
    soaps: string[],
    batch: { pipelined: boolean; answered: number },
    signal?: AbortSignal,
  ): Promise<TransportResult[]> {
    for (let attempt = 0;; attempt++) {
      const { conn, fresh } = await this.#pool.acquire(signal);
      try {
        const res = await this.#exchangeAll(conn, soaps, batch, signal);
        this.#pool.release(conn);
        return res;
      } catch (err) {
        this.#pool.discard(conn);
        batch.answered = conn.responsesReceived;
        const stale = !fresh && attempt === 0 && err instanceof ConnectionError &&
          !conn.lastResponseStarted;
        if (!stale) throw err;
      }
    }
  }

  async #exchangeAll(
    conn: Connection,
    soaps: string[],
    batch: { pipelined: boolean; answered: number },
    signal?: AbortSignal,
  ): Promise<TransportResult[]> {
    const out: TransportResult[] = [];
    let rest = soaps;
    if (this.#auth.scheme === "ntlm" && !conn.ntlm) {
      const res = await ntlmHandshake(this, conn, {
        username: this.#auth.username,
        domain: this.#auth.domain,
        password: this.#password,
        https: this.#https,
        body: soaps[0],
        signal,
      });
      this.#pool.stats.handshakes++;
      if (this.#https && res) {
        out.push(toResult(conn, res));
        rest = soaps.slice(1);
      }
    }
    if (this.#auth.scheme === "kerberos" && !conn.sealer) {
      const k = this.#auth.kerberos!;
      let spn = this.#spn;
      if (!spn) {
        try {
          spn = this.#spn = await resolveSpn(k.hostName || this.#host, k.spn, k.resolvePtr);
        } catch (err) {
          throw mapKerberosError(err, conn);
        }
      }
      const res = await kerberosHandshake(this, conn, {
        client: k.client,
        spn,
        https: this.#https,
        protocol: k.protocol,
        body: soaps[0],
        signal,
        now: k.now,
      });
      this.#pool.stats.handshakes++;
      if (this.#https && res) {
        out.push(toResult(conn, res));
        rest = soaps.slice(1);
      }
    }
    if (!rest.length) return out;
    const sealed = (this.#auth.scheme === "ntlm" || this.#auth.scheme === "kerberos") &&
      !this.#https;
    if (this.#auth.scheme === "basic" && !conn.credentialsAccepted && rest.length > 1) {
      // Basic on a connection that has not proven the password: one request, then the rest.
      out.push(...await this.#exchange(conn, rest.slice(0, 1), false, signal));
      rest = rest.slice(1);
    }
    batch.pipelined = rest.length > 1;
    if (batch.pipelined) this.#pool.stats.pipelined += rest.length - 1;
    out.push(...await this.#exchange(conn, rest, sealed, signal));
    return out;
  }

  /** Writes `soaps` at once on `conn` and reads their results; a 401 fails the lot. */
  async #exchange(
    conn: Connection,
    soaps: string[],
    sealed: boolean,
    signal?: AbortSignal,
  ): Promise<TransportResult[]> {
    const responses = await conn.pipeline(
      this.#batch(conn, soaps, sealed),
      soaps.length,
      this.#readTimeoutMs,
      signal,
    );
    const out: TransportResult[] = [];
    for (const res of responses) {
      if (res.status === 401) {
        if (this.#auth.scheme === "basic") throw basicRejected(conn, res, this.#https);
        if (conn.sealer && this.#spn) this.#auth.kerberos?.client.forget(this.#spn);
        throw lostContext(conn, conn.sealer ? "Kerberos" : "NTLM");
      }
      conn.credentialsAccepted = true;
      out.push(sealed ? this.#unsealed(conn, res) : toResult(conn, res));
    }
    return out;
  }

  #unsealed(conn: Connection, res: HttpResponse): TransportResult {
    const type = header(res, "content-type") ?? "";
    if (type.toLowerCase().startsWith("multipart/encrypted")) {
      if (conn.sealer) {
        try {
          const xml = decryptMessageWith(conn.sealer, res.body, (plain) => decodeXml(plain, ""));
          return { status: res.status, xml, conn };
        } catch (err) {
          throw mapKerberosError(err, conn);
        }
      }
      const xml = unsealResponse(conn, res.body, (plain) => decodeXml(plain, ""));
      return { status: res.status, xml, conn };
    }
    // An answer in clear on a sealed session carries no proof it came from the host: anyone on
    // the path could have written it. An error status (HTTP.sys's own 400 or 503 pages are in
    // clear) can only fail the request, which anyone on the path can do anyway; a success
    // would be taken as the host's data.
    if (res.status < 400) {
      throw new ProtocolError(
        `${conn.endpoint}: an unencrypted answer (HTTP ${res.status}, ${type || "no type"}) on ` +
          "an encrypted session: refused, as it could be anyone's",
        res.status,
      );
    }
    return toResult(conn, res);
  }

  /** One HTTP exchange on a connection (used by the NTLM handshake too). */
  send(
    conn: Connection,
    body: Uint8Array | string,
    contentType: string,
    authorization: string | null,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    return conn.request(
      this.#request(body, contentType, authorization),
      this.#readTimeoutMs,
      signal,
    );
  }

  #request(body: Uint8Array | string, contentType: string, authorization: string | null) {
    return buildRequest(this.#hostHeader, this.#headers(contentType, authorization), body);
  }

  /** The request head prefix for bodies sealed under `sealer`'s label (cached per label). */
  #krbSealedHead(sealer: KerberosSealer): string {
    let head = this.#krbSealedHeads.get(sealer.protocol);
    if (!head) {
      head = requestHeadPrefix(
        this.#hostHeader,
        this.#headers(encryptedContentType(sealer), null),
      );
      this.#krbSealedHeads.set(sealer.protocol, head);
    }
    return head;
  }

  #headers(contentType: string, authorization: string | null): [string, string][] {
    const headers: [string, string][] = [
      ["User-Agent", USER_AGENT],
      ["Connection", "Keep-Alive"],
      ["Content-Type", contentType],
    ];
    if (authorization) headers.push(["Authorization", authorization]);
    return headers;
  }

  /**
   * The requests for `soaps`, concatenated for one write: each envelope UTF-8 encoded into a
   * reused buffer, then head and body (sealed in place under NTLM/HTTP, each with the next
   * sequence number) written straight into the one array that goes to the socket.
   */
  #batch(conn: Connection, soaps: string[], sealed: boolean): Uint8Array {
    const bodies = encodeUtf8All(soaps);
    const heads: string[] = [];
    let total = 0;
    const sealer = conn.sealer;
    const sealedHead = sealer ? this.#krbSealedHead(sealer as KerberosSealer) : this.#sealedHead;
    for (const body of bodies) {
      const length = sealed
        ? encryptedLength(body.length, "UTF-8", sealer ?? undefined)
        : body.length;
      const head = requestHead(sealed ? sealedHead : this.#soapHead, length);
      heads.push(head);
      total += head.length + length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < bodies.length; i++) {
      o = writeAscii(heads[i], out, o);
      if (sealed && sealer) {
        try {
          o = encryptMessageInto(sealer, bodies[i], out, o);
        } catch (err) {
          throw mapKerberosError(err, conn);
        }
      } else if (sealed) {
        o = sealRequestInto(conn, bodies[i], out, o);
      } else {
        out.set(bodies[i], o);
        o += bodies[i].length;
      }
    }
    return out;
  }
}

/** How a server without pipelining support fails the requests after the first. */
function pipeliningFailure(err: unknown): boolean {
  return err instanceof ConnectionError || err instanceof ProtocolError ||
    (err instanceof TimeoutError && err.phase === "read");
}

/**
 * A 401 to Basic. Windows answers the same 401 when the password is wrong and when Basic comes
 * over plain HTTP while the service's AllowUnencrypted is false (its default), so over HTTP
 * the message names both; a server that does not offer Basic at all is told apart.
 */
function basicRejected(conn: Connection, res: HttpResponse, https: boolean): AuthenticationError {
  if (!offered(res).includes("basic")) {
    return new AuthenticationError(
      `${conn.endpoint}: Basic authentication is not enabled on the server (HTTP 401; it ` +
        `offers ${offered(res).join(", ") || "nothing"}): enable it or use NTLM`,
      401,
    );
  }
  return new AuthenticationError(
    https
      ? `${conn.endpoint}: the server rejected the user name or password (HTTP 401, Basic)`
      : `${conn.endpoint}: the server refused Basic over plain HTTP (HTTP 401): either it does ` +
        "not allow unencrypted traffic (WinRM AllowUnencrypted=false, the Windows default; use " +
        "HTTPS or NTLM) or it rejected the user name or password",
    401,
  );
}

function basicUser(auth: TransportAuth): string {
  const u = auth.username;
  return auth.domain && !u.includes("\\") && !u.includes("@") ? `${auth.domain}\\${u}` : u;
}

function lostContext(conn: Connection, mech: string): AuthenticationError {
  return new AuthenticationError(
    `${conn.endpoint}: the server no longer accepts this connection's ${mech} context (HTTP 401)`,
    401,
  );
}

function toResult(conn: Connection, res: HttpResponse): TransportResult {
  if (res.status === 200 || res.status >= 400) {
    return {
      status: res.status,
      xml: decodeXml(res.body, header(res, "content-type") ?? ""),
      conn,
    };
  }
  throw new ProtocolError(
    `${conn.endpoint}: unexpected HTTP status ${res.status} ${res.reason}`,
    res.status,
  );
}

const utf8 = new TextDecoder("utf-8");

/** WinRM answers in the request's charset (UTF-8 here); a BOM or charset=utf-16 wins. */
export function decodeXml(bytes: Uint8Array, contentType: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  if (/charset="?utf-16/i.test(contentType)) return new TextDecoder("utf-16le").decode(bytes);
  return utf8.decode(bytes); // strips a UTF-8 BOM
}
