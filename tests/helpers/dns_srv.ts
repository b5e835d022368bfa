/**
 * A minimal DNS server on loopback answering SRV and A queries from a table, so KDC discovery
 * (`_kerberos._udp.REALM`, `_kerberos._tcp.REALM`) can be tested without touching the system
 * resolver. UDP (node:dgram: no --unstable-net) and TCP on the same port; names are matched
 * case-insensitively; unknown names get NXDOMAIN, known names without that type an empty answer.
 *
 *   await using dns = await startDnsSrv({
 *     srv: { "_kerberos._tcp.NMSLITE.TEST": [{ priority: 0, weight: 0, port: 88, target: "kdc.nmslite.test" }] },
 *     a: { "kdc.nmslite.test": ["127.0.0.1"] },
 *   });
 *   await Deno.resolveDns("_kerberos._tcp.NMSLITE.TEST", "SRV", { nameServer: dns.nameServer });
 */
import { createSocket } from "node:dgram";
import { freeUdpTcpPort } from "./ports.ts";

export interface SrvRecord {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface DnsTable {
  srv?: Record<string, SrvRecord[]>;
  a?: Record<string, string[]>;
  /** PTR records by reverse name ("1.0.0.127.in-addr.arpa" → ["host.example."]). */
  ptr?: Record<string, string[]>;
  /** Seconds (default 60). */
  ttl?: number;
}

export interface DnsQuery {
  name: string;
  /** "SRV", "A", "AAAA" or the type number. */
  type: string;
  transport: "udp" | "tcp";
}

export interface DnsSrv extends AsyncDisposable {
  host: string;
  port: number;
  /** Pass as Deno.resolveDns's `nameServer` option. */
  nameServer: { ipAddr: string; port: number };
  /** Every query answered so far, in order. */
  queries: DnsQuery[];
  /** Replace the table (e.g. move the KDC). */
  set(table: DnsTable): void;
  close(): Promise<void>;
}

const TYPE = { A: 1, SRV: 33, AAAA: 28, PTR: 12 } as const;
const TYPE_NAME = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));

export async function startDnsSrv(initial: DnsTable): Promise<DnsSrv> {
  let table = normalise(initial);
  const host = "127.0.0.1";
  const port = await freeUdpTcpPort(host);
  const queries: DnsQuery[] = [];

  const answer = (msg: Uint8Array, transport: DnsQuery["transport"]): Uint8Array | null => {
    const q = parseQuery(msg);
    if (!q) return null;
    queries.push({ name: q.name, type: TYPE_NAME.get(q.type) ?? String(q.type), transport });
    return respond(msg, q, table);
  };

  const udp = createSocket("udp4");
  udp.on("message", (msg: Uint8Array, rinfo: { port: number; address: string }) => {
    const reply = answer(new Uint8Array(msg), "udp");
    if (reply) udp.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve, reject) => {
    udp.once("error", reject);
    udp.bind(port, host, () => resolve());
  });

  const tcp = Deno.listen({ hostname: host, port });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const conn of tcp) {
      conns.add(conn);
      serveTcp(conn, (m) => answer(m, "tcp")).finally(() => conns.delete(conn));
    }
  })().catch(() => {});

  const close = async () => {
    try {
      tcp.close();
    } catch { /* closed */ }
    for (const c of conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await new Promise<void>((resolve) => udp.close(() => resolve()));
  };
  let closed: Promise<void> | undefined;
  const stop = () => closed ??= close();
  return {
    host,
    port,
    nameServer: { ipAddr: host, port },
    queries,
    set: (t) => table = normalise(t),
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function serveTcp(conn: Deno.Conn, answer: (m: Uint8Array) => Uint8Array | null) {
  let buf: Uint8Array = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  while (true) {
    const n = await conn.read(chunk).catch(() => null);
    if (n === null) break;
    buf = concat(buf, chunk.subarray(0, n));
    while (buf.length >= 2) {
      const len = (buf[0] << 8) | buf[1];
      if (buf.length < 2 + len) break;
      const reply = answer(buf.slice(2, 2 + len));
      buf = buf.slice(2 + len);
      if (reply) {
        await conn.write(concat(new Uint8Array([reply.length >> 8, reply.length & 255]), reply))
          .catch(() => {});
      }
    }
  }
  try {
    conn.close();
  } catch { /* closed */ }
}

interface Table {
  srv: Map<string, SrvRecord[]>;
  a: Map<string, string[]>;
  ptr: Map<string, string[]>;
  ttl: number;
}

const key = (name: string) => name.toLowerCase().replace(/\.$/, "");

function normalise(t: DnsTable): Table {
  return {
    srv: new Map(Object.entries(t.srv ?? {}).map(([k, v]) => [key(k), v])),
    a: new Map(Object.entries(t.a ?? {}).map(([k, v]) => [key(k), v])),
    ptr: new Map(Object.entries(t.ptr ?? {}).map(([k, v]) => [key(k), v])),
    ttl: t.ttl ?? 60,
  };
}

interface Question {
  id: number;
  name: string;
  type: number;
  /** Bytes of the question section, echoed in the reply. */
  raw: Uint8Array;
}

function parseQuery(msg: Uint8Array): Question | null {
  if (msg.length < 12) return null;
  const qd = (msg[4] << 8) | msg[5];
  if (qd !== 1 || (msg[2] & 0x80)) return null; // one question, and a query
  const labels: string[] = [];
  let p = 12;
  while (p < msg.length && msg[p] !== 0) {
    const len = msg[p];
    if (len > 63 || p + 1 + len > msg.length) return null;
    labels.push(new TextDecoder().decode(msg.subarray(p + 1, p + 1 + len)));
    p += 1 + len;
  }
  if (p + 5 > msg.length) return null;
  const type = (msg[p + 1] << 8) | msg[p + 2];
  return {
    id: (msg[0] << 8) | msg[1],
    name: labels.join("."),
    type,
    raw: msg.slice(12, p + 5),
  };
}

function respond(query: Uint8Array, q: Question, t: Table): Uint8Array {
  const name = key(q.name);
  const known = t.srv.has(name) || t.a.has(name) || t.ptr.has(name);
  const answers: Uint8Array[] = [];
  const additional: Uint8Array[] = [];
  if (q.type === TYPE.SRV) {
    for (const r of t.srv.get(name) ?? []) {
      const rdata = concat(u16(r.priority), u16(r.weight), u16(r.port), encodeName(r.target));
      answers.push(record(q.name, TYPE.SRV, t.ttl, rdata));
      for (const ip of t.a.get(key(r.target)) ?? []) {
        additional.push(record(r.target, TYPE.A, t.ttl, ipv4(ip)));
      }
    }
  } else if (q.type === TYPE.PTR) {
    for (const n of t.ptr.get(name) ?? []) {
      answers.push(record(q.name, TYPE.PTR, t.ttl, encodeName(n)));
    }
  } else if (q.type === TYPE.A) {
    for (const ip of t.a.get(name) ?? []) answers.push(record(q.name, TYPE.A, t.ttl, ipv4(ip)));
  }
  const rd = query[2] & 0x01;
  const header = concat(
    u16(q.id),
    new Uint8Array([0x84 | rd, known ? 0x00 : 0x03]), // QR|AA(|RD); RCODE 0 or NXDOMAIN
    u16(1),
    u16(answers.length),
    u16(0),
    u16(additional.length),
  );
  return concat(header, q.raw, ...answers, ...additional);
}

function record(name: string, type: number, ttl: number, rdata: Uint8Array): Uint8Array {
  return concat(
    encodeName(name),
    u16(type),
    u16(1),
    u16(ttl >>> 16),
    u16(ttl & 0xffff),
    u16(rdata.length),
    rdata,
  );
}

function encodeName(name: string): Uint8Array {
  const parts = name.replace(/\.$/, "").split(".").filter(Boolean).map((l) =>
    new TextEncoder().encode(l)
  );
  return concat(...parts.map((l) => concat(new Uint8Array([l.length]), l)), new Uint8Array([0]));
}

function ipv4(ip: string): Uint8Array {
  return new Uint8Array(ip.split(".").map(Number));
}

function u16(n: number): Uint8Array {
  return new Uint8Array([(n >> 8) & 255, n & 255]);
}

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
