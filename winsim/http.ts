/**
 * A small HTTP/1.1 server side over a raw Deno.Conn. Our own parser because NTLM is bound to
 * the TCP connection (REFERENCE §5.2): the handler must see which socket a request came on.
 */
import { concatBytes } from "../lib/bytes.ts";

export interface HttpRequest {
  method: string;
  path: string;
  /** lower-case names; repeated headers joined with ", " */
  headers: Map<string, string>;
  body: Uint8Array;
  keepAlive: boolean;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const MAX_HEADER = 64 * 1024;
const MAX_BODY = 16 * 1024 * 1024;
const CRLFCRLF = [13, 10, 13, 10];
const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class HttpReader {
  #buf = new Uint8Array(0);

  constructor(private readonly conn: Deno.Conn) {}

  /** Bytes received but not yet read as a request (a pipelining client sent them early). */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Drops whatever was received beyond the requests read so far. */
  discard() {
    this.#buf = new Uint8Array(0);
  }

  /** The next request, or null when the peer closed cleanly between requests. */
  async next(): Promise<HttpRequest | null> {
    let headerEnd = -1;
    let scanFrom = 0;
    while ((headerEnd = indexOf(this.#buf, CRLFCRLF, scanFrom)) < 0) {
      if (this.#buf.length > MAX_HEADER) throw new HttpError(431, "header too large");
      scanFrom = Math.max(0, this.#buf.length - 3);
      if (!(await this.#fill())) {
        if (this.#buf.length === 0) return null;
        throw new HttpError(400, "connection closed mid-request");
      }
    }
    const head = decoder.decode(this.#buf.subarray(0, headerEnd)).split("\r\n");
    const [method, path, version] = head[0].split(" ");
    if (!method || !path || !version?.startsWith("HTTP/1.")) {
      throw new HttpError(400, "bad request line");
    }
    const headers = new Map<string, string>();
    for (const line of head.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) throw new HttpError(400, "bad header line");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      const prev = headers.get(name);
      headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
    }
    this.#consume(headerEnd + 4);
    // .NET and curl wait for this before sending a large body.
    if (headers.get("expect")?.toLowerCase() === "100-continue") {
      await writeAll(this.conn, encoder.encode("HTTP/1.1 100 Continue\r\n\r\n"));
    }
    let body: Uint8Array;
    if (headers.get("transfer-encoding")?.toLowerCase().includes("chunked")) {
      body = await this.#chunked();
    } else {
      const length = Number(headers.get("content-length") ?? "0");
      if (!Number.isInteger(length) || length < 0) throw new HttpError(400, "bad content-length");
      if (length > MAX_BODY) throw new HttpError(413, "body too large");
      body = await this.#take(length);
    }
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    const keepAlive = version === "HTTP/1.1"
      ? !connection.includes("close")
      : connection.includes("keep-alive");
    return { method, path, headers, body, keepAlive };
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(16 * 1024);
    const n = await this.conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  #consume(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#buf.length < n) {
      if (!(await this.#fill())) throw new HttpError(400, "connection closed mid-body");
    }
    return this.#consume(n);
  }

  async #line(): Promise<string> {
    let end: number;
    while ((end = indexOf(this.#buf, [13, 10], 0)) < 0) {
      if (this.#buf.length > MAX_HEADER) throw new HttpError(400, "chunk line too long");
      if (!(await this.#fill())) throw new HttpError(400, "connection closed mid-chunk");
    }
    const line = decoder.decode(this.#buf.subarray(0, end));
    this.#consume(end + 2);
    return line;
  }

  async #chunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const size = parseInt((await this.#line()).split(";")[0], 16);
      if (!Number.isInteger(size) || size < 0) throw new HttpError(400, "bad chunk size");
      if (size === 0) break;
      total += size;
      if (total > MAX_BODY) throw new HttpError(413, "body too large");
      parts.push(await this.#take(size));
      await this.#take(2);
    }
    while ((await this.#line()) !== "");
    return concatBytes(...parts);
  }
}

function indexOf(buf: Uint8Array, pat: number[], from: number): number {
  outer: for (let i = from; i <= buf.length - pat.length; i++) {
    for (let j = 0; j < pat.length; j++) if (buf[i + j] !== pat[j]) continue outer;
    return i;
  }
  return -1;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "",
  404: "Not Found",
  405: "Method Not Allowed",
  413: "Request Entity Too Large",
  415: "Unsupported Media Type",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

/** Serialize a response; `Server` and `Content-Length` are always added. */
export function httpResponse(
  status: number,
  headers: Array<[string, string]>,
  body: Uint8Array | string = "",
  server = "Microsoft-HTTPAPI/2.0",
): Uint8Array {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\nServer: ${server}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  head += `Date: ${new Date().toUTCString()}\r\nContent-Length: ${bytes.length}\r\n\r\n`;
  const h = encoder.encode(head);
  const out = new Uint8Array(h.length + bytes.length);
  out.set(h);
  out.set(bytes, h.length);
  return out;
}

export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}
