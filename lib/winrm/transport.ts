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
 * which could lock a domain account.
 */
import { Buffer } from "node:buffer";
import { ENCRYPTED_CONTENT_TYPE } from "./encryption.ts";
import { buildRequest, header, type HttpResponse, offered, SOAP_CONTENT_TYPE } from "./http.ts";
import type { Connection } from "./connection.ts";
import type { ConnectionPool } from "./pool.ts";
import { AuthenticationError, ConfigError, ConnectionError, ProtocolError } from "./errors.ts";
import { ntlmHandshake, sealRequest, unsealResponse } from "./ntlm_auth.ts";

const USER_AGENT = "NMSlite WinRM";

export interface TransportAuth {
  scheme: "basic" | "ntlm";
  username: string;
  domain?: string | null;
  allowUnencrypted: boolean;
}

export interface TransportResult {
  status: number;
  xml: string;
}

export class Transport {
  readonly #hostHeader: string;
  readonly #https: boolean;
  readonly #auth: TransportAuth;
  readonly #password: string;
  readonly #basicHeader: string | null;
  readonly #pool: ConnectionPool;
  readonly #readTimeoutMs: number;

  constructor(opts: {
    host: string;
    port: number;
    https: boolean;
    auth: TransportAuth;
    password: string;
    pool: ConnectionPool;
    readTimeoutMs: number;
  }) {
    this.#hostHeader = `${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}`;
    this.#https = opts.https;
    this.#auth = opts.auth;
    this.#password = opts.password;
    this.#pool = opts.pool;
    this.#readTimeoutMs = opts.readTimeoutMs;
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
  }

  get pool(): ConnectionPool {
    return this.#pool;
  }

  /** Sends one envelope and returns the status and (decrypted) response XML. */
  async post(soap: string, signal?: AbortSignal): Promise<TransportResult> {
    for (let attempt = 0;; attempt++) {
      const { conn, fresh } = await this.#pool.acquire(signal);
      try {
        const res = await this.#exchange(conn, soap, signal);
        this.#pool.release(conn);
        return res;
      } catch (err) {
        this.#pool.discard(conn);
        // A kept-alive connection the server closed while idle fails before any response
        // byte; that request never ran, so it is retried once on a new connection.
        const stale = !fresh && attempt === 0 && err instanceof ConnectionError &&
          !conn.lastResponseStarted;
        if (!stale) throw err;
      }
    }
  }

  async #exchange(conn: Connection, body: string, signal?: AbortSignal): Promise<TransportResult> {
    if (this.#auth.scheme === "basic") {
      const res = await this.send(conn, body, SOAP_CONTENT_TYPE, this.#basicHeader, signal);
      if (res.status === 401) {
        throw new AuthenticationError(
          `${conn.endpoint}: the server rejected the user name or password (HTTP 401, Basic` +
            `${offered(res).includes("basic") ? "" : "; Basic is not enabled on the server"})`,
          401,
        );
      }
      return toResult(res);
    }
    if (!conn.ntlm) {
      const res = await ntlmHandshake(this, conn, {
        username: this.#auth.username,
        domain: this.#auth.domain,
        password: this.#password,
        https: this.#https,
        body,
        signal,
      });
      this.#pool.stats.handshakes++;
      if (this.#https && res) return toResult(res);
    }
    if (this.#https) {
      const res = await this.send(conn, body, SOAP_CONTENT_TYPE, null, signal);
      if (res.status === 401) throw lostContext(conn);
      return toResult(res);
    }
    const res = await this.send(
      conn,
      sealRequest(conn, encoder.encode(body)),
      ENCRYPTED_CONTENT_TYPE,
      null,
      signal,
    );
    if (res.status === 401) throw lostContext(conn);
    const type = header(res, "content-type") ?? "";
    if (type.toLowerCase().startsWith("multipart/encrypted")) {
      return { status: res.status, xml: decodeXml(unsealResponse(conn, res.body), "") };
    }
    return toResult(res);
  }

  /** One HTTP exchange on a connection (used by the NTLM handshake too). */
  send(
    conn: Connection,
    body: Uint8Array | string,
    contentType: string,
    authorization: string | null,
    signal?: AbortSignal,
  ): Promise<HttpResponse> {
    const headers: [string, string][] = [
      ["User-Agent", USER_AGENT],
      ["Connection", "Keep-Alive"],
      ["Content-Type", contentType],
    ];
    if (authorization) headers.push(["Authorization", authorization]);
    return conn.request(buildRequest(this.#hostHeader, headers, body), this.#readTimeoutMs, signal);
  }
}

function basicUser(auth: TransportAuth): string {
  const u = auth.username;
  return auth.domain && !u.includes("\\") && !u.includes("@") ? `${auth.domain}\\${u}` : u;
}

function lostContext(conn: Connection): AuthenticationError {
  return new AuthenticationError(
    `${conn.endpoint}: the server no longer accepts this connection's NTLM context (HTTP 401)`,
    401,
  );
}

function toResult(res: HttpResponse): TransportResult {
  if (res.status === 200 || res.status >= 400) {
    return { status: res.status, xml: decodeXml(res.body, header(res, "content-type") ?? "") };
  }
  throw new ProtocolError(`unexpected HTTP status ${res.status} ${res.reason}`, res.status);
}

const utf8 = new TextDecoder("utf-8");
const encoder = new TextEncoder();

/** WinRM answers in the request's charset (UTF-8 here); a BOM or charset=utf-16 wins. */
export function decodeXml(bytes: Uint8Array, contentType: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  if (/charset="?utf-16/i.test(contentType)) return new TextDecoder("utf-16le").decode(bytes);
  return utf8.decode(bytes); // strips a UTF-8 BOM
}
