/**
 * WMI over DCOM for a simulated host: the activation service on TCP 135 and the object
 * exporter on a dynamic port, both speaking DCE/RPC with NTLM at packet integrity or privacy.
 * A connection may bind any of the interfaces; each bind or alter_context that carries an NTLM
 * NEGOTIATE starts its own security context (impacket does this), one without a token reuses
 * the connection's last one (Windows' own clients). Answers come from the same class data as
 * the WinRM side (wmi.ts, wql.ts), so a host looks the same through both protocols.
 */
import { NtlmServer } from "../lib/winrm/ntlm/server.ts";
import {
  decodeExecQuery,
  decodeNext,
  decodeNtlmLogin,
  decodeRemRelease,
  encodeHresultReply,
  encodeInterfaceReply,
  encodeNextReply,
} from "../lib/wmi/calls.ts";
import {
  CLSID,
  dualStringArrayBytes,
  encodeCustomObjRef,
  encodeRemoteCreateInstanceReply,
  encodeStdObjRef,
  IID,
  SORF_NOPING,
} from "../lib/wmi/dcom.ts";
import {
  E_ACCESSDENIED,
  NCA_OP_RNG_ERROR,
  WBEM_E_ACCESS_DENIED,
  WBEM_E_INVALID_CLASS,
  WBEM_E_INVALID_NAMESPACE,
  WBEM_E_INVALID_QUERY,
  WmiError,
} from "../lib/wmi/errors.ts";
import { guidString, sameBytes } from "../lib/wmi/ndr.ts";
import {
  AUTH_TYPE_NTLM,
  decodeBind,
  encodeBindAck,
  encodeBindNak,
  encodeCall,
  encodeFault,
  openCall,
  PduReader,
  PTYPE,
} from "../lib/wmi/pdu.ts";
import { RpcSecurity } from "../lib/wmi/security.ts";
import { CIM, CIM_ARRAY, type CimValue, encodeInstance } from "../lib/wmi/wmio.ts";
import { accountName, type AuthConfig } from "./auth.ts";
import type { HostState } from "./hosts.ts";
import type { Instance, WmiClass, WmiValue } from "./wmi.ts";
import { CLASSES } from "./wmi_disk_net.ts";
import { evaluate, parseWql, WqlSyntaxError } from "./wql.ts";

export interface DcomContext {
  auth: AuthConfig;
  conns: Set<Deno.Conn>;
}

const SERVED = [
  IID.IRemoteSCMActivator,
  IID.IWbemLevel1Login,
  IID.IRemUnknown2,
  IID.IRemUnknown,
  IID.IWbemServices,
  IID.IEnumWbemClassObject,
];

const MAX_FRAG = 5840;
const E_NOINTERFACE = 0x80004002;

interface Enumerator {
  objects: Uint8Array[];
  pos: number;
}

/** A host's DCOM objects: shared by its connections (activation on 135, calls on the other). */
export class DcomHost {
  /** the object exporter's port, set when it listens */
  port = 0;
  readonly oxid = BigInt.asUintN(64, BigInt(Math.floor(Math.random() * 2 ** 48)));
  readonly remUnknown = randomIpid();
  readonly logins = new Set<string>();
  readonly services = new Set<string>();
  readonly enums = new Map<string, Enumerator>();
  #oid = 1n;

  constructor(readonly host: HostState) {}

  objref(iid: Uint8Array, ipid: Uint8Array): Uint8Array {
    return encodeStdObjRef(
      { iid, flags: SORF_NOPING, publicRefs: 5, oxid: this.oxid, oid: this.#oid++, ipid },
      dualStringArrayBytes([`${this.host.ip}[${this.port}]`]),
    );
  }
}

function randomIpid(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}

interface SecurityState {
  ntlm?: NtlmServer;
  level: number;
  security?: RpcSecurity;
  failed?: boolean;
}

/** Serves one TCP connection (either port) until the peer closes it. */
export async function serveDcom(conn: Deno.Conn, dcom: DcomHost, ctx: DcomContext) {
  const host = dcom.host;
  host.stats.connections++;
  ctx.conns.add(conn);
  const reader = new PduReader(conn);
  const contexts = new Map<number, { iface: Uint8Array; auth: number }>();
  const securities = new Map<number, SecurityState>();
  let lastAuth = -1;
  let peerMaxFrag = 4280;
  let pending:
    | { callId: number; ctx: number; opnum: number; object?: Uint8Array; parts: Uint8Array[] }
    | null = null;
  const send = async (pdus: Uint8Array[]) => {
    for (const b of pdus) {
      let at = 0;
      while (at < b.length) at += await conn.write(b.subarray(at));
    }
  };
  try {
    while (true) {
      const p = await reader.next();
      if (!p) break;
      const fault = host.fault;
      if (fault?.kind === "hang") continue;
      if (fault?.kind === "slow") await new Promise((r) => setTimeout(r, fault.ms));
      if (p.type === PTYPE.bind || p.type === PTYPE.alterContext) {
        const bind = decodeBind(p);
        if (p.type === PTYPE.bind) peerMaxFrag = Math.min(bind.maxRecv || 4280, MAX_FRAG);
        const results = bind.contexts.map((c) => SERVED.some((i) => sameBytes(i, c.iface)) ? 0 : 2);
        if (p.type === PTYPE.bind && results.every((r) => r !== 0)) {
          await send([encodeBindNak(p.callId, 0)]);
          continue;
        }
        let token: Uint8Array | undefined;
        let authId = lastAuth;
        if (p.authLength > 0 && p.authType === AUTH_TYPE_NTLM) {
          const ntlm = new NtlmServer({
            lookupPassword: (user) =>
              host.fault?.kind === "unauthorized" ||
                accountName(user) !== ctx.auth.username.toLowerCase()
                ? undefined
                : ctx.auth.password,
            targetName: host.profile.name,
          });
          token = ntlm.challenge(p.authValue.slice());
          authId = p.authContextId;
          securities.set(authId, { ntlm, level: p.authLevel });
          lastAuth = authId;
        }
        bind.contexts.forEach((c, i) => {
          if (results[i] === 0) contexts.set(c.id, { iface: c.iface, auth: authId });
        });
        const type = p.type === PTYPE.bind ? PTYPE.bindAck : PTYPE.alterContextResp;
        const secAddr = p.type === PTYPE.bind ? String(connPort(conn)) : "";
        await send([encodeBindAck(
          type,
          p.callId,
          0x1234,
          secAddr,
          results,
          MAX_FRAG,
          token ? { level: p.authLevel, contextId: authId, token } : undefined,
        )]);
        continue;
      }
      if (p.type === PTYPE.auth3) {
        const st = securities.get(p.authContextId);
        if (!st?.ntlm) continue;
        try {
          const { keys } = st.ntlm.accept(p.authValue.slice());
          st.security = new RpcSecurity(keys, true, st.level, p.authContextId);
          host.stats.authHandshakes++;
        } catch {
          st.failed = true;
          host.stats.authFailures++;
        }
        st.ntlm = undefined;
        continue;
      }
      if (p.type !== PTYPE.request) {
        await send([encodeFault(p.callId, 0, 0x1c00001a)]);
        break;
      }
      const st = securities.get(p.authContextId);
      if (!st?.security || p.authLength === 0) {
        // unauthenticated, or the logon failed: ERROR_ACCESS_DENIED as a fault, like Windows
        await send([encodeFault(p.callId, 0, 5)]);
        continue;
      }
      // a PDU whose signature does not verify is refused: the connection is dropped
      const frag = openCall(p, st.security);
      if (frag.first) {
        pending = {
          callId: p.callId,
          ctx: frag.contextId,
          opnum: frag.opnum,
          object: frag.object,
          parts: [],
        };
      }
      if (!pending || pending.callId !== p.callId) break;
      pending.parts.push(frag.stub.slice());
      if (!frag.last) continue;
      const call = pending;
      pending = null;
      const pc = contexts.get(call.ctx);
      if (!pc) {
        await send([encodeFault(p.callId, call.ctx, 0x1c010003)]);
        continue;
      }
      const stub = concat(call.parts);
      if (fault?.kind === "reset" && sameBytes(pc.iface, IID.IEnumWbemClassObject)) {
        const e = dcom.enums.get(guidString(call.object ?? new Uint8Array(16)));
        if (e && e.pos > 0) break; // dropped mid-enumeration
      }
      const reply = dispatch(dcom, pc.iface, call.opnum, call.object, stub);
      if (typeof reply === "number") {
        await send([encodeFault(p.callId, call.ctx, reply)]);
        continue;
      }
      const out = encodeCall({
        type: PTYPE.response,
        callId: p.callId,
        contextId: call.ctx,
        stub: reply,
        maxFrag: peerMaxFrag,
        security: st.security,
      });
      if (fault?.kind === "malformed") out[0][30] ^= 0x40; // a byte flipped in transit
      await send(out);
    }
  } catch (e) {
    // a peer's garbage or a closed socket ends the connection; our own bugs do not hide here
    const io = Object.values(Deno.errors).some((E) => e instanceof E);
    if (!(e instanceof WmiError) && !io) throw e;
  } finally {
    ctx.conns.delete(conn);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

function connPort(conn: Deno.Conn): number {
  return (conn.localAddr as Deno.NetAddr).port;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A reply stub, or a fault status. */
function dispatch(
  dcom: DcomHost,
  iface: Uint8Array,
  opnum: number,
  object: Uint8Array | undefined,
  stub: Uint8Array,
): Uint8Array | number {
  const host = dcom.host;
  const obj = object ? guidString(object) : "";
  if (sameBytes(iface, IID.IRemoteSCMActivator) && opnum === 4) {
    if (host.fault?.kind === "fault" && host.fault.subcode !== "TimedOut") {
      return encodeInterfaceReply(null, E_ACCESSDENIED);
    }
    const login = randomIpid();
    dcom.logins.add(guidString(login));
    return encodeRemoteCreateInstanceReply({
      login: dcom.objref(IID.IWbemLevel1Login, login),
      oxid: dcom.oxid,
      bindings: [`${host.ip}[${dcom.port}]`],
      ipidRemUnknown: dcom.remUnknown,
      authnHint: 6,
    });
  }
  if (sameBytes(iface, IID.IWbemLevel1Login) && opnum === 6) {
    if (!dcom.logins.has(obj)) return 0x80010108; // RPC_E_DISCONNECTED: unknown object
    const ns = decodeNtlmLogin(stub).replace(/\\/g, "/").toLowerCase().replace(/^\/\/[^/]*\//, "");
    if (ns !== "root/cimv2") return encodeInterfaceReply(null, WBEM_E_INVALID_NAMESPACE);
    const services = randomIpid();
    dcom.services.add(guidString(services));
    return encodeInterfaceReply(dcom.objref(IID.IWbemServices, services), 0);
  }
  if (sameBytes(iface, IID.IRemUnknown2) || sameBytes(iface, IID.IRemUnknown)) {
    if (opnum === 5) {
      for (const ipid of decodeRemRelease(stub)) {
        const k = guidString(ipid);
        dcom.logins.delete(k);
        dcom.services.delete(k);
        dcom.enums.delete(k);
      }
      return encodeHresultReply(0);
    }
    if (opnum === 3 || opnum === 6) return encodeInterfaceReply(null, E_NOINTERFACE);
    return NCA_OP_RNG_ERROR;
  }
  if (sameBytes(iface, IID.IWbemServices) && opnum === 20) {
    if (!dcom.services.has(obj)) return 0x80010108;
    const q = decodeExecQuery(stub);
    host.stats.enumerations++;
    const result = runQuery(host, q.language, q.query);
    if (typeof result === "number") return encodeInterfaceReply(null, result);
    const ipid = randomIpid();
    dcom.enums.set(guidString(ipid), { objects: result, pos: 0 });
    return encodeInterfaceReply(dcom.objref(IID.IEnumWbemClassObject, ipid), 0);
  }
  if (sameBytes(iface, IID.IEnumWbemClassObject) && opnum === 4) {
    const e = dcom.enums.get(obj);
    if (!e) return 0x80010108;
    host.stats.pulls++;
    const { count } = decodeNext(stub);
    const batch = e.objects.slice(e.pos, e.pos + count);
    e.pos += batch.length;
    // all asked for: S_OK; fewer (the end): WBEM_S_FALSE with whatever is left
    return encodeNextReply(batch, count, batch.length === count ? 0 : 1);
  }
  return NCA_OP_RNG_ERROR;
}

/** WQL against the class data: encoded objects, or a WBEM error code. */
export function runQuery(host: HostState, language: string, text: string): Uint8Array[] | number {
  if (language.toUpperCase() !== "WQL") return WBEM_E_INVALID_QUERY;
  if (host.fault?.kind === "unknown-class") return WBEM_E_INVALID_CLASS;
  let q;
  try {
    q = parseWql(text);
  } catch (e) {
    if (e instanceof WqlSyntaxError) return WBEM_E_INVALID_QUERY;
    throw e;
  }
  const cls = CLASSES.get(q.className.toLowerCase());
  if (!cls) return WBEM_E_INVALID_CLASS;
  // a host without this class (old Windows, counters disabled), or one that denies it
  const f = host.fault;
  const listed = (f?.kind === "missing-class" || f?.kind === "denied-class") &&
    f.classes.some((c) => c.toLowerCase() === q.className.toLowerCase());
  if (listed) return f.kind === "missing-class" ? WBEM_E_INVALID_CLASS : WBEM_E_ACCESS_DENIED;
  const props = q.properties
    ? q.properties.map((p) => cls.byLower.get(p.toLowerCase()))
    : cls.properties;
  if (props.some((p) => p === undefined)) return WBEM_E_INVALID_QUERY;
  const names = props as string[];
  const all = cls.instances(host.profile, Date.now());
  const where = q.where;
  const rows = where
    ? all.filter((inst) => evaluate(where, (p) => inst[cls.byLower.get(p.toLowerCase()) ?? p]))
    : all;
  const types = classTypes(cls, all);
  return rows.map((inst) =>
    encodeCustomObjRef(
      IID.IWbemClassObject,
      CLSID.WbemClassObject,
      encodeInstance(
        {
          className: cls.name,
          properties: names.map((n) => ({
            name: n,
            type: types.get(n) ?? CIM.string,
            value: cimValue(inst, n),
          })),
        },
        host.profile.name,
      ),
    )
  );
}

/** Properties Windows types as uint64 (strings in WS-Man, 8-byte integers here). */
const UINT64 = new Set([
  "FreePhysicalMemory",
  "FreeSpaceInPagingFiles",
  "FreeVirtualMemory",
  "MaxProcessMemorySize",
  "SizeStoredInPagingFiles",
  "TotalVirtualMemorySize",
  "TotalVisibleMemorySize",
  "TotalPhysicalMemory",
  "Size",
  "FreeSpace",
  "BytesReceivedPersec",
  "BytesSentPersec",
  "BytesTotalPersec",
  "CurrentBandwidth",
  "PercentProcessorTime",
  "PercentIdleTime",
  "PercentUserTime",
  "PercentPrivilegedTime",
  "Frequency_PerfTime",
  "Timestamp_PerfTime",
  "Frequency_Sys100NS",
  "Timestamp_Sys100NS",
]);

const typeCache = new WeakMap<WmiClass, Map<string, number>>();

/** One CIM type per property of a class, from its name and the values it takes. */
function classTypes(cls: WmiClass, sample: Instance[]): Map<string, number> {
  const cached = typeCache.get(cls);
  if (cached) return cached;
  const out = new Map<string, number>();
  for (const name of cls.properties) {
    const vals = sample.map((i) => i[name]).filter((v) => v !== null && v !== undefined);
    out.set(name, typeOf(name, vals));
  }
  typeCache.set(cls, out);
  return out;
}

function typeOf(name: string, vals: WmiValue[]): number {
  const v = vals[0];
  if (v === undefined) return CIM.string;
  if (Array.isArray(v)) {
    const inner = typeOf(name, vals.flatMap((x) => x as WmiValue[]));
    return inner | CIM_ARRAY;
  }
  if (typeof v === "boolean") return CIM.boolean;
  if (typeof v === "string") return CIM.string;
  if (typeof v === "object") return CIM.datetime;
  const nums = vals as number[];
  if (nums.some((n) => !Number.isInteger(n))) return CIM.real64;
  if (UINT64.has(name) || nums.some((n) => n > 0xffffffff)) return CIM.uint64;
  if (nums.some((n) => n < 0)) return CIM.sint32;
  return CIM.uint32;
}

function cimValue(inst: Instance, name: string): CimValue {
  const v = inst[name];
  return toCim(v === undefined ? null : v);
}

function toCim(v: WmiValue): CimValue {
  if (v === null) return null;
  if (Array.isArray(v)) return v.map(toCim);
  if (typeof v === "object") return dmtf(v.datetime);
  return v;
}

/** DMTF datetime in UTC ("+000"), the form WMI returns when the host's zone is UTC. */
function dmtf(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${
    p(d.getUTCMinutes())
  }${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds() * 1000, 6)}+000`;
}
