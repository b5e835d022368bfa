/**
 * Connection-oriented DCE/RPC PDUs (C706 ch. 12, MS-RPCE 2.2.2): bind, bind_ack, alter_context,
 * auth3, request, response and fault, with the sec_trailer and NTLM auth_value, and the
 * fragmentation of a call's stub both ways. Shared by the client and the simulator.
 */
import { WmiProtocolError } from "./errors.ts";
import { guid, NdrReader, NdrWriter } from "./ndr.ts";
import { type RpcSecurity, SIGNATURE_LENGTH } from "./security.ts";

export const PTYPE = {
  request: 0,
  response: 2,
  fault: 3,
  bind: 11,
  bindAck: 12,
  bindNak: 13,
  alterContext: 14,
  alterContextResp: 15,
  auth3: 16,
} as const;

export const PFC_FIRST_FRAG = 0x01;
export const PFC_LAST_FRAG = 0x02;
export const PFC_SUPPORT_HEADER_SIGN = 0x04;
export const PFC_OBJECT_UUID = 0x80;
export const AUTH_TYPE_NTLM = 10;
export const NDR_SYNTAX = guid("8A885D04-1CEB-11C9-9FE8-08002B104860");
export const DEFAULT_MAX_FRAG = 4280;
const HEADER = 16;
const TRAILER = 8;

export interface Pdu {
  type: number;
  flags: number;
  callId: number;
  /** the whole PDU (a private copy: opening it unseals in place) */
  bytes: Uint8Array;
  authLength: number;
  authType: number;
  authLevel: number;
  authPad: number;
  authContextId: number;
  /** auth_value (the NTLM token or signature) */
  authValue: Uint8Array;
  /** end of the body (start of pad+trailer, or frag end without auth) */
  bodyEnd: number;
}

export function parsePdu(bytes: Uint8Array): Pdu {
  if (bytes.length < HEADER || bytes[0] !== 5 || bytes[1] !== 0) {
    throw new WmiProtocolError("not a DCE/RPC v5.0 PDU");
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fragLength = v.getUint16(8, true);
  const authLength = v.getUint16(10, true);
  if (fragLength !== bytes.length) throw new WmiProtocolError("PDU length mismatch");
  const pdu: Pdu = {
    type: bytes[2],
    flags: bytes[3],
    callId: v.getUint32(12, true),
    bytes,
    authLength,
    authType: 0,
    authLevel: 0,
    authPad: 0,
    authContextId: 0,
    authValue: new Uint8Array(0),
    bodyEnd: fragLength,
  };
  if (authLength > 0) {
    const t = fragLength - authLength - TRAILER;
    if (t < HEADER) throw new WmiProtocolError("bad auth_length");
    pdu.authType = bytes[t];
    pdu.authLevel = bytes[t + 1];
    pdu.authPad = bytes[t + 2];
    pdu.authContextId = v.getUint32(t + 4, true);
    pdu.authValue = bytes.subarray(t + TRAILER);
    pdu.bodyEnd = t - pdu.authPad;
    if (pdu.bodyEnd < HEADER) throw new WmiProtocolError("bad auth_pad_length");
  }
  return pdu;
}

function header(w: NdrWriter, type: number, flags: number, callId: number): void {
  w.u8(5).u8(0).u8(type).u8(flags).u32(0x10).u16(0).u16(0).u32(callId);
}

function finishPlain(w: NdrWriter, auth?: AuthToken): Uint8Array {
  let authLength = 0;
  if (auth) {
    const pad = (4 - (w.length % 4)) % 4;
    w.align(4);
    w.u8(AUTH_TYPE_NTLM).u8(auth.level).u8(pad).u8(0).u32(auth.contextId).bytes(auth.token);
    authLength = auth.token.length;
  }
  const out = w.finish();
  const v = new DataView(out.buffer);
  v.setUint16(8, out.length, true);
  v.setUint16(10, authLength, true);
  return out;
}

export interface AuthToken {
  level: number;
  contextId: number;
  token: Uint8Array;
}

export interface PresentationContext {
  id: number;
  /** interface UUID in wire order */
  iface: Uint8Array;
  major?: number;
  minor?: number;
}

/** bind (11) or alter_context (14). */
export function encodeBind(
  type: number,
  callId: number,
  contexts: PresentationContext[],
  auth?: AuthToken,
  assocGroup = 0,
): Uint8Array {
  const w = new NdrWriter();
  header(w, type, PFC_FIRST_FRAG | PFC_LAST_FRAG, callId);
  w.u16(DEFAULT_MAX_FRAG).u16(DEFAULT_MAX_FRAG).u32(assocGroup).u8(contexts.length).u8(0).u16(0);
  for (const c of contexts) {
    w.u16(c.id).u8(1).u8(0).bytes(c.iface).u16(c.major ?? 0).u16(c.minor ?? 0);
    w.bytes(NDR_SYNTAX).u32(2);
  }
  return finishPlain(w, auth);
}

export interface BindRequest {
  maxXmit: number;
  maxRecv: number;
  assocGroup: number;
  contexts: { id: number; iface: Uint8Array; major: number; transfer: Uint8Array[] }[];
}

export function decodeBind(p: Pdu): BindRequest {
  const r = new NdrReader(p.bytes.subarray(0, p.bodyEnd), HEADER);
  const out: BindRequest = {
    maxXmit: r.u16(),
    maxRecv: r.u16(),
    assocGroup: r.u32(),
    contexts: [],
  };
  const n = r.u8();
  r.bytes(3);
  for (let i = 0; i < n; i++) {
    const id = r.u16();
    const nt = r.u8();
    r.u8();
    const iface = r.bytes(16).slice();
    const major = r.u16();
    r.u16();
    const transfer: Uint8Array[] = [];
    for (let j = 0; j < nt; j++) {
      transfer.push(r.bytes(16).slice());
      r.u32();
    }
    out.contexts.push({ id, iface, major, transfer });
  }
  return out;
}

/** bind_ack (12) or alter_context_resp (15); result 0 accepts a context, 2 rejects it. */
export function encodeBindAck(
  type: number,
  callId: number,
  assocGroup: number,
  secondaryAddress: string,
  results: number[],
  maxFrag: number,
  auth?: AuthToken,
): Uint8Array {
  const w = new NdrWriter();
  header(w, type, PFC_FIRST_FRAG | PFC_LAST_FRAG, callId);
  w.u16(maxFrag).u16(maxFrag).u32(assocGroup);
  if (secondaryAddress) {
    w.u16(secondaryAddress.length + 1);
    for (const ch of secondaryAddress) w.u8(ch.charCodeAt(0));
    w.u8(0);
  } else w.u16(0);
  w.align(4).u8(results.length).u8(0).u16(0);
  for (const res of results) {
    w.u16(res).u16(res === 0 ? 0 : 2);
    if (res === 0) w.bytes(NDR_SYNTAX).u32(2);
    else w.bytes(new Uint8Array(20));
  }
  return finishPlain(w, auth);
}

export function decodeBindAck(p: Pdu): { maxXmit: number; maxRecv: number; results: number[] } {
  const r = new NdrReader(p.bytes.subarray(0, p.bodyEnd), HEADER);
  const maxXmit = r.u16();
  const maxRecv = r.u16();
  r.u32();
  const secLen = r.u16();
  r.bytes(secLen);
  r.align(4);
  const n = r.u8();
  r.bytes(3);
  const results: number[] = [];
  for (let i = 0; i < n; i++) {
    results.push(r.u16());
    r.u16();
    r.bytes(20);
  }
  return { maxXmit, maxRecv, results };
}

export function encodeBindNak(callId: number, reason: number): Uint8Array {
  const w = new NdrWriter();
  header(w, PTYPE.bindNak, PFC_FIRST_FRAG | PFC_LAST_FRAG, callId);
  w.u16(reason).u8(0);
  return finishPlain(w);
}

export function encodeAuth3(callId: number, auth: AuthToken): Uint8Array {
  const w = new NdrWriter();
  header(w, PTYPE.auth3, PFC_FIRST_FRAG | PFC_LAST_FRAG, callId);
  w.u32(0);
  return finishPlain(w, auth);
}

export function encodeFault(callId: number, contextId: number, status: number): Uint8Array {
  const w = new NdrWriter();
  header(w, PTYPE.fault, PFC_FIRST_FRAG | PFC_LAST_FRAG, callId);
  w.u32(0).u16(contextId).u8(0).u8(0).u32(status).u32(0);
  return finishPlain(w);
}

export function faultStatus(p: Pdu): number {
  if (p.bytes.length < 28) throw new WmiProtocolError("short fault PDU");
  return new DataView(p.bytes.buffer, p.bytes.byteOffset).getUint32(24, true);
}

export interface CallSpec {
  type: typeof PTYPE.request | typeof PTYPE.response;
  callId: number;
  contextId: number;
  opnum?: number;
  /** object UUID (IPID) in wire order, for requests on a DCOM object */
  object?: Uint8Array;
  stub: Uint8Array;
  /** the peer's max_recv_frag */
  maxFrag: number;
  security?: RpcSecurity | null;
}

/** A request or response, cut into fragments no longer than maxFrag, each signed/sealed. */
export function encodeCall(spec: CallSpec): Uint8Array[] {
  const sec = spec.security ?? null;
  const hdr = spec.type === PTYPE.request ? 24 + (spec.object ? 16 : 0) : 24;
  const overhead = hdr + (sec ? TRAILER + SIGNATURE_LENGTH : 0);
  // whole multiples of 16 in every fragment but the last: no pad is needed there
  const room = Math.max(16, (spec.maxFrag - overhead) & ~15);
  const out: Uint8Array[] = [];
  let at = 0;
  do {
    const chunk = spec.stub.subarray(at, Math.min(spec.stub.length, at + room));
    const first = at === 0;
    const last = at + chunk.length >= spec.stub.length;
    const pad = sec ? (16 - (chunk.length % 16)) % 16 : 0;
    const len = hdr + chunk.length + (sec ? pad + TRAILER + SIGNATURE_LENGTH : 0);
    const b = new Uint8Array(len);
    const v = new DataView(b.buffer);
    b[0] = 5;
    b[2] = spec.type;
    b[3] = (first ? PFC_FIRST_FRAG : 0) | (last ? PFC_LAST_FRAG : 0) |
      (spec.type === PTYPE.request && spec.object ? PFC_OBJECT_UUID : 0);
    b[4] = 0x10;
    v.setUint16(8, len, true);
    v.setUint16(10, sec ? SIGNATURE_LENGTH : 0, true);
    v.setUint32(12, spec.callId, true);
    v.setUint32(16, spec.stub.length - at, true);
    v.setUint16(20, spec.contextId, true);
    if (spec.type === PTYPE.request) {
      v.setUint16(22, spec.opnum ?? 0, true);
      if (spec.object) b.set(spec.object, 24);
    }
    b.set(chunk, hdr);
    if (sec) {
      const t = hdr + chunk.length + pad;
      b[t] = AUTH_TYPE_NTLM;
      b[t + 1] = sec.level;
      b[t + 2] = pad;
      v.setUint32(t + 4, sec.contextId, true);
      sec.protect(b, hdr, t);
    }
    out.push(b);
    at += chunk.length;
  } while (at < spec.stub.length);
  return out;
}

export interface CallFragment {
  contextId: number;
  opnum: number;
  object?: Uint8Array;
  stub: Uint8Array;
  first: boolean;
  last: boolean;
}

/** Opens one request/response fragment: verifies and unseals it when a security context exists. */
export function openCall(p: Pdu, security: RpcSecurity | null): CallFragment {
  const v = new DataView(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength);
  if (p.bytes.length < 24) throw new WmiProtocolError("short request/response PDU");
  const object = p.type === PTYPE.request && (p.flags & PFC_OBJECT_UUID) !== 0;
  const hdr = 24 + (object ? 16 : 0);
  if (p.bodyEnd < hdr) throw new WmiProtocolError("short request/response PDU");
  if (security) {
    if (p.authLength !== SIGNATURE_LENGTH || p.authType !== AUTH_TYPE_NTLM) {
      throw new WmiProtocolError("PDU lacks the NTLM signature the security context requires");
    }
    if (p.authLevel < security.level) {
      throw new WmiProtocolError(`PDU at auth level ${p.authLevel} below ${security.level}`);
    }
    security.open(p.bytes, hdr, p.bodyEnd + p.authPad);
  }
  return {
    contextId: v.getUint16(20, true),
    opnum: p.type === PTYPE.request ? v.getUint16(22, true) : 0,
    object: object ? p.bytes.slice(24, 40) : undefined,
    stub: p.bytes.subarray(hdr, p.bodyEnd),
    first: (p.flags & PFC_FIRST_FRAG) !== 0,
    last: (p.flags & PFC_LAST_FRAG) !== 0,
  };
}

/** Reads whole PDUs (by frag_length) from a byte stream. */
export class PduReader {
  #buf = new Uint8Array(65536);
  #start = 0;
  #end = 0;

  constructor(private readonly conn: { read(p: Uint8Array): Promise<number | null> }) {}

  /** null on a clean end of stream between PDUs */
  async next(): Promise<Pdu | null> {
    while (true) {
      const have = this.#end - this.#start;
      if (have >= HEADER) {
        const len = this.#buf[this.#start + 8] | (this.#buf[this.#start + 9] << 8);
        if (len < HEADER) throw new WmiProtocolError("bad frag_length");
        if (have >= len) {
          const bytes = this.#buf.slice(this.#start, this.#start + len);
          this.#start += len;
          return parsePdu(bytes);
        }
        if (len > this.#buf.length - this.#start) this.#compact(len);
      } else if (this.#start + HEADER > this.#buf.length) this.#compact(HEADER);
      const n = await this.conn.read(this.#buf.subarray(this.#end));
      if (n === null) {
        if (this.#end === this.#start) return null;
        throw new WmiProtocolError("connection closed mid-PDU");
      }
      this.#end += n;
    }
  }

  #compact(need: number): void {
    const have = this.#end - this.#start;
    const size = Math.max(this.#buf.length, need * 2);
    const next = size === this.#buf.length ? this.#buf : new Uint8Array(size);
    next.set(this.#buf.subarray(this.#start, this.#end), 0);
    this.#buf = next;
    this.#start = 0;
    this.#end = have;
  }
}
