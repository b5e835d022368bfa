/**
 * WMI over DCOM, client side: activation on TCP 135 (IRemoteSCMActivator::RemoteCreateInstance),
 * the object exporter's dynamic port, IWbemLevel1Login::NTLMLogin, IWbemServices::ExecQuery and
 * IEnumWbemClassObject::Next until WBEM_S_FALSE, all at packet privacy with the server's
 * signatures verified. The logged-in IWbemServices and its connection are kept between
 * queries; every interface obtained is released (RemRelease) when done with it.
 *
 *   const wmi = new WmiClient({ host: "10.0.0.5", username: "Administrator", password });
 *   const rows = await wmi.query("SELECT Caption FROM Win32_OperatingSystem");
 *   await wmi.close();
 */
import {
  decodeHresultReply,
  decodeInterfaceReply,
  decodeNextReply,
  encodeExecQuery,
  encodeNext,
  encodeNtlmLogin,
  encodeRemRelease,
  OPNUM,
  WBEM_FLAG_FORWARD_ONLY,
  WBEM_FLAG_RETURN_IMMEDIATELY,
} from "./calls.ts";
import { type Credentials, RpcChannel } from "./channel.ts";
import {
  decodeCustomObjRef,
  decodeRemoteCreateInstanceReply,
  decodeStdObjRef,
  encodeRemoteCreateInstance,
  IID,
} from "./dcom.ts";
import {
  callError,
  RpcUnavailableError,
  WBEM_S_FALSE,
  WBEM_S_TIMEDOUT,
  WmiAccessDeniedError,
  WmiAuthenticationError,
  WmiCallError,
  WmiError,
  WmiPortBlockedError,
  WmiProtocolError,
  WmiQueryLimitError,
  WmiReplyTooLargeError,
  WmiTimeoutError,
} from "./errors.ts";
import { connectionBudget } from "../winrm/budget.ts";
import { isLocalResource } from "../winrm/errors.ts";
import { AUTH_LEVEL_PKT_INTEGRITY, AUTH_LEVEL_PKT_PRIVACY } from "./security.ts";
import { CIM, type CimInstance, decodeInstance } from "./wmio.ts";

export interface WmiTimeouts {
  /** TCP connect, to 135 and to the dynamic port */
  connectMs: number;
  /** each call (activation, login, query, one Next) */
  callMs: number;
}

export interface WmiClientOptions extends Credentials {
  host: string;
  /** activation port (135) */
  port?: number;
  namespace?: string;
  timeouts?: Partial<WmiTimeouts>;
  /** objects asked for per Next (default 100) */
  batch?: number;
  /** DMTF datetimes as Date (default) or as the wire's string */
  datetimes?: "date" | "dmtf";
  /** the most one call's reply may reassemble to (default 16 MiB, channel.ts) */
  maxReplyBytes?: number;
  /** caps on one query's answer (DEFAULT_QUERY_LIMITS) */
  limits?: Partial<WmiQueryLimits>;
}

/** What one query may bring back before it is given up as a broken or hostile host's. */
export interface WmiQueryLimits {
  /** objects over all Next calls */
  maxObjects: number;
  /** Next calls */
  maxNexts: number;
  /** reply bytes over the ExecQuery and all its Next calls */
  maxBytes: number;
}

/**
 * WinRM's enumeration caps (lib/winrm/enumerate.ts): 50,000 objects, 250 round trips. The
 * largest answer the collector asks for (500 event log records) is a few MB; 64 MiB bounds a
 * host that sends full replies without end.
 */
export const DEFAULT_QUERY_LIMITS: WmiQueryLimits = {
  maxObjects: 50_000,
  maxNexts: 250,
  maxBytes: 64 * 1024 * 1024,
};

export type WmiRow = Record<string, WmiRowValue>;

/** A query of queryAllSettled() read only up to its first `firstBatch` objects. */
export interface SettledWql {
  wql: string;
  firstBatch?: number;
}

export interface SettledRows {
  items: WmiRow[];
  /** the host's own answer to this query: a class it lacks, access denied to it */
  error?: WmiCallError | WmiAccessDeniedError;
  /** more objects were there than `firstBatch` */
  truncated?: boolean;
}
export type WmiRowValue = string | number | bigint | boolean | Date | null | WmiRowValue[];

export const DEFAULT_TIMEOUTS: WmiTimeouts = { connectMs: 5000, callMs: 30000 };

interface Session {
  channel: RpcChannel;
  services: Uint8Array;
  remUnknown: Uint8Array;
  /** enumerators done with, released together at the end of a batch (one call, not one each) */
  pending: Uint8Array[];
}

export class WmiClient {
  readonly opts: WmiClientOptions;
  #timeouts: WmiTimeouts;
  #limits: WmiQueryLimits;
  #session?: Session;
  #cid = crypto.getRandomValues(new Uint8Array(16));
  /** queries on one client run one at a time: a DCE/RPC association is not multiplexed here */
  #queue: Promise<unknown> = Promise.resolve();
  #running = 0;
  counters = { connects: 0, queries: 0, calls: 0, objects: 0, bytes: 0 };

  constructor(opts: WmiClientOptions) {
    this.opts = opts;
    this.#timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.#limits = { ...DEFAULT_QUERY_LIMITS, ...opts.limits };
  }

  /** Rows of a WQL query; a kept session is reused, and rebuilt once if it went stale. */
  async query(wql: string): Promise<WmiRow[]> {
    return (await this.queryInstances(wql)).map((i) => this.#row(i));
  }

  /** a query is running or waiting */
  get busy(): boolean {
    return this.#running > 0;
  }

  queryInstances(wql: string): Promise<CimInstance[]> {
    return this.#serial(() => this.#queryOnce(wql, false));
  }

  /**
   * Queries in turn on the kept session, their enumerators released in one call at the end;
   * the first failure ends the batch (so a wrong password costs one failed logon a poll).
   */
  queryAll(wqls: string[]): Promise<WmiRow[][]> {
    return this.#batch(async (out: WmiRow[][]) => {
      for (const q of wqls) out.push((await this.#queryOnce(q, true)).map((i) => this.#row(i)));
    });
  }

  /** A batch of queries on the session, its deferred enumerators released at the end. */
  #batch<R>(fill: (out: R[]) => Promise<void>): Promise<R[]> {
    return this.#serial(async () => {
      const out: R[] = [];
      let ok = false;
      try {
        await fill(out);
        ok = true;
      } finally {
        const flush = this.#flush();
        if (ok) await flush;
        else await flush.catch(() => {});
      }
      return out;
    });
  }

  /**
   * Queries in turn on the kept session, like queryAll, but a query the host answers with a
   * WMI error of its own (a class it lacks, access denied to it) settles with that error and
   * the others go on; `firstBatch` reads only the first that many objects (`truncated` when
   * more were there). A failure of the connection or the logon still fails the whole batch.
   */
  queryAllSettled(queries: (string | SettledWql)[]): Promise<SettledRows[]> {
    return this.#batch(async (out: SettledRows[]) => {
      for (const q of queries) {
        const { wql, firstBatch } = typeof q === "string" ? { wql: q, firstBatch: undefined } : q;
        try {
          const r = await this.#queryOnce(wql, true, firstBatch);
          out.push({
            items: r.map((i) => this.#row(i)),
            ...(r.truncated ? { truncated: true } : {}),
          });
        } catch (e) {
          const own = e instanceof WmiCallError || e instanceof WmiAccessDeniedError;
          if (!own || !this.#session || this.#session.channel.closed) throw e;
          out.push({ items: [], error: e as WmiCallError | WmiAccessDeniedError });
        }
      }
    });
  }

  #serial<T>(job: () => Promise<T>): Promise<T> {
    this.#running++;
    const run = this.#queue.then(() => {
      // in use again: not a candidate for eviction while it runs
      if (this.#session) connectionBudget().unpark(this.#session.channel);
      return job();
    });
    this.#queue = run.catch(() => {});
    return run.finally(() => {
      if (--this.#running === 0) this.#idle();
    });
  }

  /**
   * Nothing more queued: the session stays open for the next poll while the descriptor budget
   * keeps it (the least recently used goes first when room is needed); otherwise it is closed,
   * so past the budget a poll pays the activation and logon instead of failing.
   */
  #idle(): void {
    const s = this.#session;
    if (!s || s.channel.closed) return;
    const budget = connectionBudget();
    if (budget.keepIdle()) {
      budget.park(s.channel, () => {
        if (this.#session === s && this.#running === 0) this.#drop();
        else s.channel.close();
      });
    } else {
      void this.close().catch(() => {});
    }
  }

  async #flush(): Promise<void> {
    const s = this.#session;
    if (!s || s.channel.closed || s.pending.length === 0) return;
    const ipids = s.pending.splice(0);
    await this.#release(s.channel, s.remUnknown, ipids);
  }

  async #queryOnce(
    wql: string,
    defer: boolean,
    limit?: number,
  ): Promise<CimInstance[] & { truncated?: boolean }> {
    const reused = this.#session !== undefined && !this.#session.channel.closed;
    try {
      return await this.#query(await this.#ensure(), wql, defer, limit);
    } catch (e) {
      if (
        reused && e instanceof WmiProtocolError && !(e instanceof WmiReplyTooLargeError) &&
        !(e instanceof WmiQueryLimitError) &&
        this.#session?.channel.closed !== false
      ) {
        this.#drop();
        return await this.#query(await this.#ensure(), wql, defer, limit);
      }
      throw e;
    }
  }

  async #ensure(): Promise<Session> {
    if (this.#session && !this.#session.channel.closed) return this.#session;
    this.#session = undefined;
    this.#session = await this.#connect();
    return this.#session;
  }

  async #connect(): Promise<Session> {
    const o = this.opts;
    const t = this.#timeouts;
    this.counters.connects++;
    const port = o.port ?? 135;
    let scm: RpcChannel;
    try {
      scm = await RpcChannel.connect(
        o.host,
        port,
        AUTH_LEVEL_PKT_PRIVACY,
        t.connectMs,
        o.maxReplyBytes,
      );
    } catch (e) {
      if (isLocalResource(e)) throw e; // ours, not the host's
      if (e instanceof WmiTimeoutError && e.phase === "budget") throw e;
      throw new RpcUnavailableError(
        `RPC server unavailable: ${o.host}:${port} ${
          e instanceof WmiTimeoutError ? "does not answer" : "refused the connection"
        } (0x800706BA)`,
      );
    }
    let act;
    try {
      await scm.bind(IID.IRemoteSCMActivator, o, t.callMs);
      const reply = await scm.call(
        IID.IRemoteSCMActivator,
        OPNUM.remoteCreateInstance,
        encodeRemoteCreateInstance(this.#cid),
        undefined,
        t.callMs,
        "activate",
      );
      this.counters.bytes += scm.bytes;
      act = decodeRemoteCreateInstanceReply(reply);
    } finally {
      scm.close();
    }
    if (act.hresult !== 0) throw callError("DCOM activation of WMI", act.hresult);
    if (!act.login) throw new WmiProtocolError("activation reply carries no IWbemLevel1Login");
    const binding = pickBinding(act.bindings, o.host);
    if (!binding) throw new WmiProtocolError("activation reply has no usable TCP binding");
    // DCOM hardening (KB5004442) wants >= packet integrity; we always seal, whatever the hint
    // (a hint above privacy would be a server we cannot satisfy)
    if (act.authnHint > AUTH_LEVEL_PKT_PRIVACY) {
      throw new WmiProtocolError(`the server asks for auth level ${act.authnHint}`);
    }
    const level = Math.max(AUTH_LEVEL_PKT_PRIVACY, AUTH_LEVEL_PKT_INTEGRITY);
    let channel: RpcChannel;
    try {
      channel = await RpcChannel.connect(o.host, binding.port, level, t.connectMs, o.maxReplyBytes);
    } catch (e) {
      if (isLocalResource(e)) throw e;
      if (e instanceof WmiTimeoutError && e.phase === "budget") throw e;
      throw new WmiPortBlockedError(
        `DCOM activation worked on ${port} but the WMI port ${binding.port} does not answer: ` +
          "the firewall must allow the dynamic RPC range",
        binding.port,
      );
    }
    try {
      await channel.bind(IID.IWbemLevel1Login, o, t.callMs);
      const loginReply = decodeInterfaceReply(
        await channel.call(
          IID.IWbemLevel1Login,
          OPNUM.ntlmLogin,
          encodeNtlmLogin(this.#cid, "//./" + (o.namespace ?? "root/cimv2")),
          act.login.ipid,
          t.callMs,
          "login",
        ),
      );
      await channel.bind(IID.IRemUnknown2, o, t.callMs);
      await this.#release(channel, act.ipidRemUnknown, [act.login.ipid]);
      if (loginReply.hr !== 0 || !loginReply.objref) {
        throw callError(`WMI login to ${o.namespace ?? "root/cimv2"}`, loginReply.hr);
      }
      const services = decodeStdObjRef(loginReply.objref);
      await channel.bind(IID.IWbemServices, o, t.callMs);
      await channel.bind(IID.IEnumWbemClassObject, o, t.callMs);
      return { channel, services: services.ipid, remUnknown: act.ipidRemUnknown, pending: [] };
    } catch (e) {
      channel.close();
      throw e;
    }
  }

  async #query(
    s: Session,
    wql: string,
    defer: boolean,
    limit?: number,
  ): Promise<CimInstance[] & { truncated?: boolean }> {
    const t = this.#timeouts;
    this.counters.queries++;
    const before = s.channel.bytes;
    const reply = decodeInterfaceReply(
      await s.channel.call(
        IID.IWbemServices,
        OPNUM.execQuery,
        encodeExecQuery(this.#cid, wql, WBEM_FLAG_FORWARD_ONLY | WBEM_FLAG_RETURN_IMMEDIATELY),
        s.services,
        t.callMs,
        "query",
      ),
    );
    this.counters.calls++;
    if (reply.hr !== 0 || !reply.objref) throw callError(`WQL query "${wql}"`, reply.hr);
    const enumIpid = decodeStdObjRef(reply.objref).ipid;
    const out: CimInstance[] & { truncated?: boolean } = [];
    let done = false;
    let nexts = 0;
    try {
      while (true) {
        const next = decodeNextReply(
          await s.channel.call(
            IID.IEnumWbemClassObject,
            OPNUM.next,
            encodeNext(
              this.#cid,
              t.callMs,
              limit !== undefined ? limit - out.length : this.opts.batch ?? 100,
            ),
            enumIpid,
            t.callMs + 1000,
            "next",
          ),
        );
        this.counters.calls++;
        nexts++;
        this.#checkLimits(wql, out.length + next.objects.length, nexts, s.channel.bytes - before);
        // objects that come with S_FALSE or S_TIMEDOUT are real results
        for (const o of next.objects) out.push(decodeInstance(decodeCustomObjRef(o).data));
        if (next.hr === WBEM_S_FALSE) break;
        if (next.hr !== 0 && next.hr !== WBEM_S_TIMEDOUT) {
          throw callError(`WQL query "${wql}"`, next.hr);
        }
        // the first `limit` objects only: a full batch may have more behind it, left unread
        if (limit !== undefined && out.length >= limit) {
          if (next.hr === 0) out.truncated = true;
          break;
        }
      }
      done = true;
    } finally {
      // the enumerator is released either way; after a failure a failing release must not
      // hide the error that matters
      if (done && defer) s.pending.push(enumIpid);
      else if (!s.channel.closed) {
        const release = this.#release(s.channel, s.remUnknown, [enumIpid]);
        if (done) await release;
        else await release.catch(() => {});
      }
    }
    this.counters.objects += out.length;
    this.counters.bytes += s.channel.bytes - before;
    return out;
  }

  #checkLimits(wql: string, objects: number, nexts: number, bytes: number): void {
    const l = this.#limits;
    const over = (limit: "objects" | "nexts" | "bytes", cap: number, what: string) => {
      throw new WmiQueryLimitError(
        `WQL query "${wql}": ${what} (the client's ${limit} cap); stopped reading a host ` +
          "that does not end its answer",
        limit,
        cap,
      );
    };
    if (objects > l.maxObjects) over("objects", l.maxObjects, `more than ${l.maxObjects} objects`);
    if (nexts > l.maxNexts) over("nexts", l.maxNexts, `no end after ${l.maxNexts} Next calls`);
    if (bytes > l.maxBytes) over("bytes", l.maxBytes, `more than ${l.maxBytes} bytes`);
  }

  async #release(channel: RpcChannel, remUnknown: Uint8Array, ipids: Uint8Array[]) {
    const hr = decodeHresultReply(
      await channel.call(
        IID.IRemUnknown2,
        OPNUM.remRelease,
        encodeRemRelease(this.#cid, ipids.map((ipid) => ({ ipid, publicRefs: 5 }))),
        remUnknown,
        this.#timeouts.callMs,
        "release",
      ),
    );
    this.counters.calls++;
    if (hr !== 0) throw callError("RemRelease", hr);
  }

  #row(i: CimInstance): WmiRow {
    const row: WmiRow = {};
    const asDate = (this.opts.datetimes ?? "date") === "date";
    for (const p of i.properties) {
      row[p.name] = asDate && (p.type & 0xfff) === CIM.datetime ? dmtfValue(p.value) : p.value;
    }
    return row;
  }

  /** Drops the connection (an abandoned poll): a query in flight fails at once. */
  abort(): void {
    this.#drop();
  }

  #drop(): void {
    this.#session?.channel.close();
    this.#session = undefined;
  }

  /** Releases IWbemServices and closes the connection. */
  async close(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (!s || s.channel.closed) return;
    try {
      await this.#release(s.channel, s.remUnknown, [...s.pending.splice(0), s.services]);
    } catch (e) {
      if (!(e instanceof WmiError)) throw e;
    } finally {
      s.channel.close();
    }
  }
}

/** The string binding to use: the one naming the address we reached, else the first. */
function pickBinding(bindings: string[], host: string): { port: number } | null {
  const parsed = bindings.map((b) => {
    const m = /^(.*)\[(\d+)\]$/.exec(b);
    // a port outside TCP's range is no binding at all (not a port the firewall blocks)
    return m && Number(m[2]) >= 1 && Number(m[2]) <= 65535
      ? { addr: m[1], port: Number(m[2]) }
      : null;
  }).filter((x) => x !== null);
  const exact = parsed.find((b) => b.addr.toUpperCase().includes(host.toUpperCase()));
  return exact ?? parsed[0] ?? null;
}

function dmtfValue(v: unknown): WmiRowValue {
  if (Array.isArray(v)) return v.map(dmtfValue);
  return typeof v === "string" ? dmtfToDate(v) ?? v : v as WmiRowValue;
}

/** "20240102030405.500000+060" (local time + offset in minutes) -> Date. */
export function dmtfToDate(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/.exec(s);
  if (!m) return null;
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], Math.floor(+m[7] / 1000));
  const off = (m[8] === "-" ? -1 : 1) * +m[9];
  return new Date(utc - off * 60000);
}

/** Date -> DMTF with a +000 offset. */
export function dateToDmtf(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${
    p(d.getUTCMinutes())
  }${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+000`;
}

export { WmiAuthenticationError };
