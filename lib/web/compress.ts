/**
 * Response compression and validators, applied by lib/web/serve.ts to every response:
 *
 * - text bodies (HTML, CSS, JavaScript, JSON, XML, SVG, plain text) of 1 KiB or more go out
 *   brotli- or gzip-compressed as the request's Accept-Encoding allows (brotli preferred), with
 *   `Vary: Accept-Encoding`;
 * - responses marked `immutable` (the fingerprinted /static assets) are compressed once, harder,
 *   and kept in memory;
 * - a cacheable GET 200 (not `no-store`) gets a weak ETag from its body, and a matching
 *   If-None-Match gets 304 without the body.
 */
import zlib from "node:zlib";
import { promisify } from "node:util";
import { createHash } from "node:crypto";

type Encoding = "br" | "gzip";
type Handler<I> = (req: Request, info: I) => Response | Promise<Response>;

const MIN_BYTES = 1024;
const TEXT_TYPE =
  /^(text\/(?!event-stream)|application\/(json|javascript|xml|[\w.+-]*\+json|[\w.+-]*\+xml)|image\/svg\+xml)/i;
const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);

/** The encoding to use for a request's Accept-Encoding, or undefined for none. */
export function negotiateEncoding(header: string | null): Encoding | undefined {
  if (!header) return undefined;
  const q = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name, Number.isFinite(weight) ? weight : 0);
  }
  const star = q.get("*") ?? 0;
  const br = q.get("br") ?? star;
  const gz = q.get("gzip") ?? q.get("x-gzip") ?? star;
  if (br > 0 && br >= gz) return "br";
  if (gz > 0) return "gzip";
  return undefined;
}

/**
 * Brotli quality for responses made per request: 1. On a 24 KB page of 50 devices it takes
 * ~110 µs and 4.1 KB, where quality 4 took 160-260 µs for 3.9 KB (gzip 6: ~130 µs, 4.0 KB):
 * on a box whose cores also poll, 5 % more bytes cost less than twice the CPU.
 */
const BROTLI_DYNAMIC_QUALITY = 1;

async function encode(body: Uint8Array, encoding: Encoding, hard: boolean): Promise<Uint8Array> {
  if (encoding === "gzip") {
    const level = hard ? 9 : 6;
    return body.length <= 128 * 1024 ? zlib.gzipSync(body, { level }) : await gzip(body, { level });
  }
  const params = {
    [zlib.constants.BROTLI_PARAM_QUALITY]: hard ? 9 : BROTLI_DYNAMIC_QUALITY,
    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length,
  };
  // Small bodies: synchronous is several times faster than the thread-pool round trip.
  return !hard && body.length <= 128 * 1024
    ? zlib.brotliCompressSync(body, { params })
    : await brotli(body, { params });
}

/** SHA-1 of the body, first 12 bytes. Synchronous: a third of crypto.subtle's cost for a page. */
function weakEtag(body: Uint8Array): string {
  return `W/"${createHash("sha1").update(body).digest("hex").slice(0, 24)}"`;
}

function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  const bare = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => t.trim() === "*" || bare(t) === bare(etag));
}

function addVary(headers: Headers, value: string): void {
  const vary = headers.get("vary");
  if (!vary) headers.set("vary", value);
  else if (!vary.split(",").some((v) => v.trim().toLowerCase() === value.toLowerCase())) {
    headers.set("vary", `${vary}, ${value}`);
  }
}

/** Compressed immutable responses, by URL and encoding (bounded). */
const immutableCache = new Map<string, Uint8Array>();
const IMMUTABLE_CACHE_ENTRIES = 256;

export async function compressResponse(req: Request, res: Response): Promise<Response> {
  if (!res.body || res.status < 200 || res.status === 204 || res.status === 206) return res;
  if (res.headers.has("content-encoding")) return res;
  const type = res.headers.get("content-type") ?? "";
  if (!TEXT_TYPE.test(type)) return res;
  const cacheControl = res.headers.get("cache-control") ?? "";
  const headers = new Headers(res.headers);
  addVary(headers, "Accept-Encoding");
  const body = new Uint8Array(await res.arrayBuffer());

  const method = req.method;
  if (
    (method === "GET" || method === "HEAD") && res.status === 200 && !/no-store/i.test(cacheControl)
  ) {
    if (!headers.has("etag")) headers.set("etag", weakEtag(body));
    if (etagMatches(req.headers.get("if-none-match"), headers.get("etag")!)) {
      headers.delete("content-length");
      headers.delete("content-type");
      return new Response(null, { status: 304, headers });
    }
  }
  const encoding = body.length >= MIN_BYTES && method !== "HEAD"
    ? negotiateEncoding(req.headers.get("accept-encoding"))
    : undefined;
  if (!encoding) {
    return new Response(body, { status: res.status, statusText: res.statusText, headers });
  }

  const immutable = /immutable/i.test(cacheControl) && method === "GET";
  let out: Uint8Array | undefined;
  const key = `${encoding} ${req.url}`;
  if (immutable) out = immutableCache.get(key);
  if (!out) {
    out = await encode(body, encoding, immutable);
    if (immutable) {
      if (immutableCache.size >= IMMUTABLE_CACHE_ENTRIES) {
        immutableCache.delete(immutableCache.keys().next().value!);
      }
      immutableCache.set(key, out);
    }
  }
  headers.set("content-encoding", encoding);
  headers.delete("content-length");
  return new Response(out as Uint8Array<ArrayBuffer>, {
    status: res.status,
    statusText: res.statusText,
    headers,
  });
}

/** Wraps a handler so its responses go through compressResponse. */
export function compressResponses<I>(handler: Handler<I>): Handler<I> {
  return async (req, info) => compressResponse(req, await handler(req, info));
}
