/**
 * A small incremental HTTP/1.1 response parser (status line, headers, Content-Length or
 * chunked body, or a body delimited by close). Written here because the transport runs on
 * node:net/node:tls sockets (see connection.ts) and needs repeated WWW-Authenticate headers,
 * which fetch() folds together.
 */
import { Buffer } from "node:buffer";
import { ProtocolError } from "./errors.ts";

export interface HttpResponse {
  status: number;
  reason: string;
  /** lower-cased names; repeated headers keep every value in order */
  headers: Map<string, string[]>;
  body: Buffer;
  /** false when the server asked to close (or spoke HTTP/1.0 without keep-alive) */
  keepAlive: boolean;
}

export const SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8";

/** Lower-cased scheme names from every WWW-Authenticate header. */
export function offered(res: HttpResponse): string[] {
  return (res.headers.get("www-authenticate") ?? []).map((v) => v.split(/\s/)[0].toLowerCase());
}

export function header(res: HttpResponse, name: string): string | undefined {
  return res.headers.get(name)?.[0];
}

const MAX_HEAD = 64 * 1024;
/** A parser's bound on a body when its owner names none. */
const MAX_BODY = 64 * 1024 * 1024;
/** 1xx responses taken before the real one (a server sends one 100 Continue at most) */
const MAX_INTERIM = 8;

/**
 * The largest response body a client that asked for envelopes of at most `maxEnvelopeSize`
 * octets takes. A WS-Management service answers within the client's MaxEnvelopeSize (DSP0226
 * §6.2, MS-WSMV §3.1.4.1.7; a result that does not fit is split over Pulls or refused with
 * wsman:EncodingLimit), sealing adds a few hundred bytes of framing, and an error page is
 * smaller; twice the envelope and 64 KiB more leaves room for a UTF-16 answer. Past it the
 * peer is not a WinRM service, and the connection is dropped rather than buffering what it
 * sends (up to 64 MiB a connection before).
 */
export function responseBodyLimit(maxEnvelopeSize: number): number {
  return 2 * maxEnvelopeSize + 64 * 1024;
}
const EMPTY = Buffer.alloc(0);

/**
 * Where `times` CRLFs in a row start in `b`, or -1. A plain loop: node:buffer's indexOf is
 * JavaScript in Deno and took ~0.8 µs to find a response head's end where this takes ~0.14.
 */
export function indexOfCrlf(b: Uint8Array, times: 1 | 2): number {
  const last = b.length - 2 * times;
  for (let i = 0; i <= last; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && (times === 1 || (b[i + 2] === 13 && b[i + 3] === 10))) {
      return i;
    }
  }
  return -1;
}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-trailer" | "close" | "done";

export class ResponseParser {
  #buf: Buffer = EMPTY;
  #state: State = "head";
  #status = 0;
  #reason = "";
  #headers = new Map<string, string[]>();
  #keepAlive = true;
  #remaining = 0;
  #parts: Buffer[] = [];
  #bodyLen = 0;
  #interim = 0;
  #trailerLen = 0;
  readonly #maxBody: number;
  /** true once any byte of a response arrived (a stale keep-alive socket sends none) */
  started = false;
  /**
   * Bytes that arrived after the complete response: the start of the next response when
   * requests were pipelined (connection.ts hands them to the next parser), otherwise a
   * stream out of sync.
   */
  rest: Buffer | null = null;

  /** `maxBody`: the largest body taken (responseBodyLimit() for a WinRM client) */
  constructor(maxBody = MAX_BODY) {
    this.#maxBody = maxBody;
  }

  /** Feeds bytes; returns the response once complete (extra bytes are left in `rest`). */
  push(chunk: Buffer): HttpResponse | null {
    this.started = true;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    for (;;) {
      switch (this.#state) {
        case "head": {
          const end = indexOfCrlf(this.#buf, 2);
          if (end < 0) {
            if (this.#buf.length > MAX_HEAD) {
              throw new ProtocolError("HTTP response head too large");
            }
            return null;
          }
          this.#parseHead(this.#buf.subarray(0, end).toString("latin1"));
          this.#buf = this.#buf.subarray(end + 4);
          if (this.#status >= 100 && this.#status < 200) {
            if (++this.#interim > MAX_INTERIM) {
              throw new ProtocolError("HTTP response: too many interim (1xx) responses");
            }
            this.#headers = new Map(); // 100 Continue: the real response follows
            continue;
          }
          this.#chooseBodyMode();
          continue;
        }
        case "length": {
          const take = Math.min(this.#remaining, this.#buf.length);
          if (take) this.#add(this.#buf.subarray(0, take));
          this.#buf = this.#buf.subarray(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return null;
          this.#state = "done";
          continue;
        }
        case "chunk-size": {
          const nl = indexOfCrlf(this.#buf, 1);
          if (nl < 0) {
            if (this.#buf.length > 1024) throw new ProtocolError("bad chunk size line");
            return null;
          }
          const line = this.#buf.subarray(0, nl).toString("latin1").split(";")[0].trim();
          if (!/^[0-9a-fA-F]+$/.test(line)) throw new ProtocolError("bad chunk size line");
          this.#remaining = parseInt(line, 16);
          this.#fits(this.#remaining);
          this.#buf = this.#buf.subarray(nl + 2);
          this.#state = this.#remaining === 0 ? "chunk-trailer" : "chunk-data";
          continue;
        }
        case "chunk-data": {
          if (this.#remaining > 0) {
            const take = Math.min(this.#remaining, this.#buf.length);
            if (take) this.#add(this.#buf.subarray(0, take));
            this.#buf = this.#buf.subarray(take);
            this.#remaining -= take;
            if (this.#remaining > 0) return null;
          }
          if (this.#buf.length < 2) return null;
          if (this.#buf[0] !== 13 || this.#buf[1] !== 10) throw new ProtocolError("bad chunk end");
          this.#buf = this.#buf.subarray(2);
          this.#state = "chunk-size";
          continue;
        }
        case "chunk-trailer": {
          const nl = indexOfCrlf(this.#buf, 1);
          this.#trailerLen += nl < 0 ? 0 : nl + 2;
          if (this.#trailerLen + (nl < 0 ? this.#buf.length : 0) > MAX_HEAD) {
            throw new ProtocolError("HTTP response trailer too large");
          }
          if (nl < 0) return null;
          this.#buf = this.#buf.subarray(nl + 2);
          if (nl === 0) this.#state = "done"; // empty line ends the trailers
          continue;
        }
        case "close":
          this.#add(this.#buf);
          this.#buf = EMPTY;
          return null;
        case "done":
          if (this.#buf.length) this.rest = this.#buf;
          return this.#result();
      }
    }
  }

  /** The peer closed: completes a close-delimited body, otherwise the response was cut. */
  end(): HttpResponse {
    if (this.#state === "close") {
      this.#keepAlive = false;
      return this.#result();
    }
    throw new ProtocolError(
      this.#state === "head"
        ? "connection closed before a complete HTTP response head"
        : "connection closed in the middle of the HTTP response body (truncated)",
    );
  }

  #add(part: Buffer) {
    this.#fits(part.length);
    this.#bodyLen += part.length;
    this.#parts.push(part);
  }

  /** Refuses `more` body bytes past the bound, as soon as a length announces them. */
  #fits(more: number) {
    if (this.#bodyLen + more > this.#maxBody) {
      throw new ProtocolError(`HTTP response body over ${this.#maxBody} bytes`);
    }
  }

  #parseHead(head: string) {
    const lines = head.split("\r\n");
    const m = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) {
      throw new ProtocolError(`not an HTTP response: ${JSON.stringify(lines[0].slice(0, 40))}`);
    }
    this.#status = Number(m[2]);
    this.#reason = m[3] ?? "";
    this.#keepAlive = m[1] === "1";
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(":");
      if (colon <= 0) throw new ProtocolError("malformed HTTP header line");
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      const list = this.#headers.get(name);
      if (list) list.push(value);
      else this.#headers.set(name, [value]);
    }
    const conn = this.#headers.get("connection")?.join(",").toLowerCase() ?? "";
    if (conn.includes("close")) this.#keepAlive = false;
    else if (conn.includes("keep-alive")) this.#keepAlive = true;
  }

  #chooseBodyMode() {
    const te = this.#headers.get("transfer-encoding")?.join(",").toLowerCase();
    const cl = this.#headers.get("content-length");
    if (this.#status === 204 || this.#status === 304) {
      this.#state = "done";
    } else if (te && te.includes("chunked")) {
      this.#state = "chunk-size";
    } else if (cl) {
      if (new Set(cl).size !== 1 || !/^\d+$/.test(cl[0])) {
        throw new ProtocolError("invalid Content-Length");
      }
      this.#remaining = Number(cl[0]);
      this.#fits(this.#remaining);
      this.#state = this.#remaining ? "length" : "done";
    } else {
      this.#state = "close";
      this.#keepAlive = false;
    }
  }

  #result(): HttpResponse {
    return {
      status: this.#status,
      reason: this.#reason,
      headers: this.#headers,
      body: this.#parts.length === 1 ? this.#parts[0] : Buffer.concat(this.#parts),
      keepAlive: this.#keepAlive,
    };
  }
}

/**
 * A copy of `s` as one flat string. A string built by concatenation (a template literal, `+=`)
 * is a tree of pieces in V8 until something reads it whole; kept per host (an endpoint, a host
 * header), the pieces cost ~2.5 times the string's length. (Kept heads do the opposite on
 * purpose: a host's part joined to a block shared by every host, see requestHeadPrefix.)
 */
export function flatString(s: string): string {
  return JSON.parse(JSON.stringify(s));
}

const encoder = new TextEncoder();
let scratch = new Uint8Array(64 * 1024);

/**
 * UTF-8 encodes strings with encodeInto into one reused buffer (Deno's node Buffer paths are
 * JS loops; TextEncoder is native) and returns a view per string. The views are valid until
 * the next call: copy them out (buildRequest, Transport's batches) before anything else runs.
 */
export function encodeUtf8All(texts: string[]): Uint8Array[] {
  let max = 0;
  for (const t of texts) max += t.length * 3;
  if (scratch.length < max) scratch = new Uint8Array(max);
  const out: Uint8Array[] = [];
  let o = 0;
  for (const t of texts) {
    const n = encoder.encodeInto(t, scratch.subarray(o)).written;
    out.push(scratch.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** Header blocks seen so far, each kept once however many hosts send it. */
const headerBlocks = new Map<string, string>();

/**
 * The request head up to (not including) Content-Length: request line, Host, the given
 * headers. A transport computes it once per kind of request and keeps it. The header block is
 * the same for every host of a credential, so the prefix is left as a concatenation of the
 * host's part and a block shared by all of them (~250 bytes less per host than a flat copy).
 */
export function requestHeadPrefix(hostHeader: string, headers: [string, string][]): string {
  let block = "";
  for (const [k, v] of headers) block += `${k}: ${v}\r\n`;
  let shared = headerBlocks.get(block);
  if (shared === undefined) {
    if (headerBlocks.size >= 256) headerBlocks.clear();
    headerBlocks.set(shared = flatString(block), shared);
  }
  return "POST /wsman HTTP/1.1\r\nHost: " + hostHeader + "\r\n" + shared;
}

/** Completes a head from its prefix; ASCII, so its byte length is its string length. */
export function requestHead(prefix: string, contentLength: number): string {
  return `${prefix}Content-Length: ${contentLength}\r\n\r\n`;
}

/** Writes an ASCII string (a request head) to out[at..]; returns the end offset. */
export function writeAscii(text: string, out: Uint8Array, at: number): number {
  encoder.encodeInto(text, out.subarray(at));
  return at + text.length;
}

/** Builds one request; the body goes in the same write so it leaves in one segment. */
export function buildRequest(
  hostHeader: string,
  headers: [string, string][],
  body: Uint8Array | string,
): Uint8Array {
  const bytes = typeof body === "string" ? encodeUtf8All([body])[0] : body;
  const head = requestHead(requestHeadPrefix(hostHeader, headers), bytes.length);
  const out = new Uint8Array(head.length + bytes.length);
  out.set(bytes, writeAscii(head, out, 0));
  return out;
}
