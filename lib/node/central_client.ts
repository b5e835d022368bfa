/**
 * The node's HTTPS client to the central. The central's certificate is always verified: by
 * the system store, by a CA file (NMSLITE_CENTRAL_CA_FILE), or by a pinned SHA-256 fingerprint
 * (NMSLITE_CENTRAL_FINGERPRINT): the certificate the central presents is fetched once, its
 * fingerprint compared, and then exactly that certificate is trusted for every connection, so a
 * changed certificate fails verification instead of being accepted. Plain http:// is refused
 * unless the central is on loopback (tests, or a proxy on the same machine).
 */
import { connect as tlsConnect } from "node:tls";
import { X509Certificate } from "node:crypto";
import { gzipSync } from "node:zlib";
import { getLogger } from "@logtape/logtape";

const log = getLogger(["nmslite", "node", "central"]);

/**
 * Bodies posted with `gzip` go compressed from this size: a result batch's JSON shrinks ~10
 * times, and the central spends a wake-up on each TCP segment it reads.
 */
const GZIP_FROM_BYTES = 4_096;
const utf8 = new TextEncoder();

export class CentralTlsError extends Error {
  override name = "CentralTlsError";
}

/** A refusal by the central: status, error code and message from its envelope. */
export class CentralRefusal extends Error {
  override name = "CentralRefusal";
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface CentralTrust {
  /** PEM of the CA (or the certificate itself) to trust */
  caPem?: string;
  /** SHA-256 of the central's certificate, hex with or without colons */
  fingerprint?: string;
}

export class CentralClient {
  private client?: Deno.HttpClient;
  secret?: string;
  /** off once the central refused a compressed body (one older than compression) */
  private gzip = true;

  private constructor(readonly baseUrl: URL) {}

  static async create(url: string, trust: CentralTrust): Promise<CentralClient> {
    const base = new URL(url);
    const c = new CentralClient(base);
    if (base.protocol === "http:") {
      if (!isLoopback(base.hostname)) {
        throw new CentralTlsError(
          `${url} is not https: credentials go to nodes only over TLS (plain http only on loopback)`,
        );
      }
      return c;
    }
    if (base.protocol !== "https:") throw new CentralTlsError(`${url}: not an http(s) URL`);
    let caPem = trust.caPem;
    if (trust.fingerprint) caPem = await pinnedCertificate(base, trust.fingerprint);
    if (caPem) c.client = Deno.createHttpClient({ caCerts: [caPem] });
    return c;
  }

  /** Whether secrets may travel on this connection (the central decides too). */
  get secure(): boolean {
    return this.baseUrl.protocol === "https:";
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.secret) headers.set("authorization", `Bearer ${this.secret}`);
    if (init.body && !headers.has("content-type")) headers.set("content-type", "application/json");
    return await fetch(new URL(path, this.baseUrl), {
      ...init,
      headers,
      ...(this.client ? { client: this.client } : {}),
    } as RequestInit);
  }

  /**
   * POSTs JSON, gzip-compressed when `opts.gzip` and it is large (the central's /ingest takes
   * both); answers `data` on 2xx, throws CentralRefusal otherwise. A central that refuses the
   * compressed body as malformed or of an unknown encoding gets it again uncompressed, and no
   * compressed body after that.
   */
  async post<T>(
    path: string,
    body: unknown,
    signal?: AbortSignal,
    opts: { gzip?: boolean } = {},
  ): Promise<T> {
    const json = JSON.stringify(body);
    if (opts.gzip && this.gzip && json.length >= GZIP_FROM_BYTES) {
      try {
        return await this.send<T>(path, {
          method: "POST",
          // a Buffer is a Uint8Array (its type's backing store is looser than fetch's)
          body: gzipSync(utf8.encode(json)) as Uint8Array as Uint8Array<ArrayBuffer>,
          headers: { "content-encoding": "gzip" },
          signal,
        });
      } catch (err) {
        if (
          !(err instanceof CentralRefusal) ||
          !(err.status === 415 || (err.status === 400 && err.code === "MALFORMED_BATCH"))
        ) throw err;
        // Refused uncompressed too, the body itself is at fault: that refusal is the answer.
        const answer = await this.send<T>(path, { method: "POST", body: json, signal });
        this.gzip = false;
        log.warn("the central does not take compressed bodies: sending them as they are", {});
        return answer;
      }
    }
    return await this.send<T>(path, { method: "POST", body: json, signal });
  }

  private async send<T>(path: string, init: RequestInit): Promise<T> {
    const res = await this.fetch(path, init);
    const text = await res.text();
    let parsed: { data?: T; error?: { code?: string; message?: string } } = {};
    try {
      parsed = JSON.parse(text);
    } catch { /* not JSON */ }
    if (!res.ok) {
      throw new CentralRefusal(
        res.status,
        parsed.error?.code ?? `HTTP_${res.status}`,
        parsed.error?.message ?? text.slice(0, 200),
      );
    }
    return parsed.data as T;
  }

  close(): void {
    this.client?.close();
  }
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host.startsWith("127.") || host === "[::1]";
}

/** The PEM of the certificate the central presents, if its SHA-256 is `fingerprint`. */
async function pinnedCertificate(url: URL, fingerprint: string): Promise<string> {
  const want = fingerprint.replaceAll(":", "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(want)) {
    throw new CentralTlsError("the pinned fingerprint must be a SHA-256 (64 hex digits)");
  }
  const der = await new Promise<Uint8Array>((resolve, reject) => {
    // Verification is done by the pin below, before anything is sent on any connection.
    const socket = tlsConnect({
      host: url.hostname,
      port: Number(url.port || 443),
      servername: isIp(url.hostname) ? undefined : url.hostname,
      rejectUnauthorized: false,
    }, () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      if (!cert?.raw) reject(new CentralTlsError("the central presented no certificate"));
      else resolve(new Uint8Array(cert.raw));
    });
    socket.on("error", reject);
  });
  const x509 = new X509Certificate(der);
  const got = x509.fingerprint256.replaceAll(":", "").toLowerCase();
  if (got !== want) {
    throw new CentralTlsError(
      `the central's certificate has SHA-256 ${x509.fingerprint256}, not the pinned one`,
    );
  }
  return x509.toString();
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
