/**
 * A tiny HTTP/1.1 responder on loopback (real sockets) that answers each request with raw
 * bytes chosen by the test: for framing cases (chunked, split writes, truncation) and TLS
 * certificates the simulator does not produce.
 */
import { WinrmClient, type WinrmClientOptions } from "../../lib/winrm/mod.ts";

export interface CannedRequest {
  head: string;
  body: string;
  /** 1-based index of the request on its connection */
  seq: number;
}

/** Raw response bytes, a list of pieces written separately, or "close" to hang up (also
 * allowed as the last piece of a list). */
export type CannedReply = string | Uint8Array | (string | Uint8Array)[] | "close";

export interface CannedServer {
  port: number;
  connections: number;
  requests: CannedRequest[];
  close(): Promise<void>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function startCanned(
  reply: (req: CannedRequest) => CannedReply,
  tls?: { cert: string; key: string },
): CannedServer {
  const listener = tls
    ? Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key })
    : Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const server: CannedServer = {
    port: (listener.addr as Deno.NetAddr).port,
    connections: 0,
    requests: [],
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
      await Promise.all([...tasks]);
    },
  };
  const serve = async (conn: Deno.Conn) => {
    server.connections++;
    conns.add(conn);
    let buf = "";
    let seq = 0;
    const chunk = new Uint8Array(65536);
    try {
      for (;;) {
        let end = buf.indexOf("\r\n\r\n");
        while (end < 0) {
          const n = await conn.read(chunk);
          if (n === null) return;
          buf += dec.decode(chunk.subarray(0, n));
          end = buf.indexOf("\r\n\r\n");
        }
        const head = buf.slice(0, end);
        const len = Number(/content-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
        while (buf.length < end + 4 + len) {
          const n = await conn.read(chunk);
          if (n === null) return;
          buf += dec.decode(chunk.subarray(0, n));
        }
        const req = { head, body: buf.slice(end + 4, end + 4 + len), seq: ++seq };
        buf = buf.slice(end + 4 + len);
        server.requests.push(req);
        const out = reply(req);
        if (out === "close") return;
        for (const piece of Array.isArray(out) ? out : [out]) {
          if (piece === "close") return; // hang up after the earlier pieces
          const bytes = typeof piece === "string" ? enc.encode(piece) : piece;
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
        }
      }
    } catch {
      /* client went away */
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        const t = serve(conn).finally(() => tasks.delete(t));
        tasks.add(t);
      }
    } catch { /* closed */ }
  })();
  return server;
}

/** A complete HTTP response with a Content-Length body. */
export function httpReply(status: number, headers: [string, string][], body = ""): string {
  const b = enc.encode(body);
  return `HTTP/1.1 ${status} X\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join("") +
    `Content-Length: ${b.length}\r\n\r\n` + body;
}

export const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`../fixtures/wsman/${name}`, import.meta.url));

/** `xml` (a response fixture) made the answer to `req`: its RelatesTo names req's MessageID. */
export function answering(req: CannedRequest, xml: string): string {
  const id = /<a:MessageID>([^<]+)<\/a:MessageID>/.exec(req.body)?.[1];
  if (!id) throw new Error("the request carries no MessageID");
  return xml.replace(/<a:RelatesTo>[^<]*<\/a:RelatesTo>/, `<a:RelatesTo>${id}</a:RelatesTo>`);
}

/** A Basic client of a canned server on loopback (plain HTTP unless `extra` says otherwise). */
export function cannedClient(port: number, extra: Partial<WinrmClientOptions> = {}): WinrmClient {
  return new WinrmClient({
    host: "127.0.0.1",
    port,
    auth: "basic",
    username: "admin",
    password: "pw",
    allowUnencrypted: true,
    timeouts: { connectMs: 2_000, readMs: 2_000, operationMs: 5_000 },
    ...extra,
  });
}
