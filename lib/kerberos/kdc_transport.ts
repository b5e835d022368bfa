/**
 * Talking to a KDC (RFC 4120 §7.2): UDP for small requests with TCP (4-byte length prefix)
 * when the KDC answers KRB_ERR_RESPONSE_TOO_BIG or UDP gets no answer, the next KDC when one
 * cannot be reached; KDCs found through DNS SRV (`_kerberos._udp|_tcp.REALM`) when none
 * are configured. A request goes to one KDC at a time and is never re-sent to a KDC that
 * answered, so a wrong password costs one failure however many KDCs there are.
 */
import dgram from "node:dgram";
import { Der } from "./asn1.ts";
import { KerberosError, KRB_ERR } from "./errors.ts";
import { MSG } from "./messages.ts";

export interface KdcAddress {
  host: string;
  port: number;
  /** what DNS said it listens on; a configured address is tried with both */
  transport?: "udp" | "tcp";
}

export interface NameServer {
  ipAddr: string;
  port?: number;
}

/** MIT's udp_preference_limit: larger requests go straight to TCP. */
const UDP_LIMIT = 1465;
const MAX_REPLY = 1 << 20;

/** "host", "host:port", "[v6]:port" → a KDC address (port 88 by default). */
export function parseKdc(spec: string): KdcAddress {
  const s = spec.trim();
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 88 };
  const m = /^([^:\s]+)(?::(\d+))?$/.exec(s);
  if (!m || (m[2] && (Number(m[2]) < 1 || Number(m[2]) > 65535))) {
    throw new KerberosError("config", `not a KDC address: ${JSON.stringify(spec)} (host[:port])`);
  }
  return { host: m[1], port: m[2] ? Number(m[2]) : 88 };
}

/** The realm's KDCs from DNS SRV records, TCP and UDP, in priority then weight order. */
export async function discoverKdcs(realm: string, nameServer?: NameServer): Promise<KdcAddress[]> {
  const out: KdcAddress[] = [];
  for (const transport of ["udp", "tcp"] as const) {
    let records: Deno.SrvRecord[] = [];
    try {
      records = await Deno.resolveDns(
        `_kerberos._${transport}.${realm}`,
        "SRV",
        nameServer
          ? { nameServer: { ipAddr: nameServer.ipAddr, port: nameServer.port ?? 53 } }
          : {},
      );
    } catch {
      continue; // NXDOMAIN or no answer for this transport
    }
    records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
    for (const r of records) {
      if (r.target === "." || !r.target) continue;
      const target = r.target.replace(/\.$/, "");
      // With a nameserver of its own the caller cannot rely on the system resolver for the
      // target's address either: ask the same server.
      const hosts = nameServer ? await addresses(target, nameServer) : [target];
      for (const host of hosts) out.push({ host, port: r.port, transport });
    }
  }
  if (!out.length) {
    throw new KerberosError(
      "kdc_unreachable",
      `no KDC configured for realm ${realm} and DNS has no _kerberos._tcp/_udp.${realm} SRV records`,
    );
  }
  return out;
}

async function addresses(name: string, ns: NameServer): Promise<string[]> {
  try {
    return await Deno.resolveDns(name, "A", {
      nameServer: { ipAddr: ns.ipAddr, port: ns.port ?? 53 },
    });
  } catch {
    return [];
  }
}

function isTooBig(reply: Uint8Array): boolean {
  try {
    const outer = Der.read(reply);
    if (outer.tag !== 0x60 + MSG.ERROR) return false;
    const f = outer.inner().fields("KRB-ERROR");
    return f.get(6)?.int() === KRB_ERR.RESPONSE_TOO_BIG;
  } catch {
    return false;
  }
}

/** Sends `msg` to the first KDC that answers and returns its answer (a reply or KRB-ERROR). */
export async function kdcExchange(
  kdcs: KdcAddress[],
  msg: Uint8Array,
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<Uint8Array> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const tried: string[] = [];
  for (const kdc of kdcs) {
    const where = `${kdc.host}:${kdc.port}`;
    if (kdc.transport !== "tcp" && msg.length <= UDP_LIMIT) {
      const r = await udpExchange(kdc, msg, Math.min(timeoutMs, 1000), opts.signal);
      if (r.reply && !isTooBig(r.reply)) return r.reply;
      tried.push(`${where}/udp: ${r.reply ? "response too big" : r.why}`);
      if (kdc.transport === "udp" && !r.reply) continue; // DNS said UDP only
    }
    const r = await tcpExchange(kdc, msg, timeoutMs, opts.signal);
    if (r.reply) return r.reply;
    tried.push(`${where}/tcp: ${r.why}`);
  }
  throw new KerberosError("kdc_unreachable", `no KDC reachable (${tried.join("; ")})`);
}

type Attempt = { reply: Uint8Array; why?: undefined } | { reply?: undefined; why: string };

function udpExchange(
  kdc: KdcAddress,
  msg: Uint8Array,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Attempt> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(kdc.host.includes(":") ? "udp6" : "udp4");
    let done = false;
    const finish = (a: Attempt) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      try {
        sock.close();
      } catch { /* already closed */ }
      resolve(a);
    };
    const onAbort = () => finish({ why: "cancelled" });
    signal?.addEventListener("abort", onAbort);
    const timer = setTimeout(() => finish({ why: "no answer" }), timeoutMs);
    sock.on("error", (e: Error & { code?: string }) => finish({ why: e.code ?? e.message }));
    sock.on("message", (b: Uint8Array) => finish({ reply: new Uint8Array(b) }));
    sock.connect(kdc.port, kdc.host, () => sock.send(msg));
  });
}

async function tcpExchange(
  kdc: KdcAddress,
  msg: Uint8Array,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Attempt> {
  let conn: Deno.TcpConn | null = null;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  const onAbort = () => conn?.close();
  signal?.addEventListener("abort", onAbort);
  try {
    conn = await Promise.race([
      Deno.connect({ hostname: kdc.host, port: kdc.port }),
      new Promise<never>((_, rej) =>
        setTimeout(() => rej(new Error("connect timed out")), timeoutMs)
      ),
    ]);
    const framed = new Uint8Array(4 + msg.length);
    new DataView(framed.buffer).setUint32(0, msg.length);
    framed.set(msg, 4);
    for (let o = 0; o < framed.length;) o += await conn.write(framed.subarray(o));
    const head = await readN(conn, 4);
    const len = new DataView(head.buffer).getUint32(0);
    if (len > MAX_REPLY) return { why: "reply too large" };
    return { reply: await readN(conn, len) };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { why: e.name === "ConnectionRefused" ? "connection refused" : e.code ?? e.message };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    try {
      conn?.close();
    } catch { /* closed by the timer */ }
  }
}

async function readN(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  for (let o = 0; o < n;) {
    const got = await conn.read(out.subarray(o));
    if (got === null) throw new Error("KDC closed the connection");
    o += got;
  }
  return out;
}
