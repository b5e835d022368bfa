/**
 * Stubs of the WMI calls (MS-WMI 3.1.4) and IRemUnknown::RemRelease, both directions:
 * the client encodes requests and decodes replies, the simulator the reverse.
 */
import { readOrpcThat, readOrpcThis, writeOrpcThat, writeOrpcThis } from "./dcom.ts";
import { WmiProtocolError } from "./errors.ts";
import { NdrReader, NdrWriter } from "./ndr.ts";

export const OPNUM = {
  remoteCreateInstance: 4,
  remRelease: 5,
  ntlmLogin: 6,
  execQuery: 20,
  next: 4,
} as const;

export const WBEM_FLAG_FORWARD_ONLY = 0x20;
export const WBEM_FLAG_RETURN_IMMEDIATELY = 0x10;
export const WBEM_INFINITE = 0xffffffff;

function bstr(w: NdrWriter, s: string): void {
  // impacket and Windows' own marshalling count the NUL inside the BSTR; Windows accepts it
  const n = s.length + 1;
  w.pointer().u32(n).u32(n * 2).u32(n);
  for (let i = 0; i < s.length; i++) w.u16(s.charCodeAt(i));
  w.u16(0);
}

function readBstr(r: NdrReader): string | null {
  if (r.u32() === 0) return null;
  r.u32();
  const bytes = r.u32();
  const chars = r.u32();
  if (bytes > r.remaining || chars * 2 > r.remaining) throw new WmiProtocolError("bad BSTR");
  let s = "";
  for (let i = 0; i < chars; i++) {
    const c = r.u16();
    if (c !== 0 || i !== chars - 1) s += String.fromCharCode(c);
  }
  return s;
}

function interfacePointer(w: NdrWriter, objref: Uint8Array | null): void {
  if (!objref) {
    w.u32(0);
    return;
  }
  w.pointer().u32(objref.length).u32(objref.length).bytes(objref);
}

function readInterfacePointer(r: NdrReader): Uint8Array | null {
  if (r.u32() === 0) return null;
  const n = r.u32();
  r.u32();
  const b = r.bytes(n).slice();
  return b;
}

// ---- client side

export function encodeNtlmLogin(cid: Uint8Array, namespace: string): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThis(w, cid);
  w.pointer().wstring(namespace);
  w.u32(0).u32(0).u32(0);
  return w.finish();
}

export function encodeExecQuery(cid: Uint8Array, query: string, flags: number): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThis(w, cid);
  bstr(w, "WQL");
  bstr(w, query);
  w.u32(flags).u32(0);
  return w.finish();
}

export function encodeNext(cid: Uint8Array, timeoutMs: number, count: number): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThis(w, cid);
  w.u32(timeoutMs).u32(count);
  return w.finish();
}

export function encodeRemRelease(
  cid: Uint8Array,
  refs: { ipid: Uint8Array; publicRefs: number }[],
): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThis(w, cid);
  w.u16(refs.length).u32(refs.length);
  for (const r of refs) w.guid(r.ipid).u32(r.publicRefs).u32(0);
  return w.finish();
}

/** Reply of NTLMLogin / ExecQuery: an interface pointer (OBJREF bytes) and the HRESULT. */
export function decodeInterfaceReply(stub: Uint8Array): { objref: Uint8Array | null; hr: number } {
  const r = new NdrReader(stub);
  readOrpcThat(r);
  const objref = readInterfacePointer(r);
  r.align(4);
  return { objref, hr: r.u32() };
}

/** Reply of IEnumWbemClassObject::Next: the OBJREF_CUSTOM bytes of each object, and the HRESULT. */
export function decodeNextReply(stub: Uint8Array): { objects: Uint8Array[]; hr: number } {
  const r = new NdrReader(stub);
  readOrpcThat(r);
  r.u32();
  r.u32();
  const n = r.u32();
  if (n * 4 > r.remaining) throw new WmiProtocolError("bad object count in Next reply");
  const present: boolean[] = [];
  for (let i = 0; i < n; i++) present.push(r.u32() !== 0);
  const objects: Uint8Array[] = [];
  for (const p of present) {
    if (!p) continue;
    const len = r.u32();
    r.u32();
    objects.push(r.bytes(len));
    r.align(4);
  }
  const returned = r.u32();
  const hr = r.u32();
  if (returned !== objects.length) throw new WmiProtocolError("Next reply count mismatch");
  return { objects, hr };
}

export function decodeHresultReply(stub: Uint8Array): number {
  const r = new NdrReader(stub);
  readOrpcThat(r);
  r.pos = Math.max(r.pos, stub.length - 4);
  return r.u32();
}

// ---- server side

export function decodeNtlmLogin(stub: Uint8Array): string {
  const r = new NdrReader(stub);
  readOrpcThis(r);
  return r.u32() === 0 ? "" : r.wstring();
}

export function decodeExecQuery(
  stub: Uint8Array,
): { language: string; query: string; flags: number } {
  const r = new NdrReader(stub);
  readOrpcThis(r);
  const language = readBstr(r) ?? "";
  const query = readBstr(r) ?? "";
  r.align(4);
  return { language, query, flags: r.u32() };
}

export function decodeNext(stub: Uint8Array): { timeout: number; count: number } {
  const r = new NdrReader(stub);
  readOrpcThis(r);
  return { timeout: r.u32(), count: r.u32() };
}

export function decodeRemRelease(stub: Uint8Array): Uint8Array[] {
  const r = new NdrReader(stub);
  readOrpcThis(r);
  r.u16();
  const n = r.u32();
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    out.push(r.guid());
    r.u32();
    r.u32();
  }
  return out;
}

export function encodeInterfaceReply(objref: Uint8Array | null, hr: number): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThat(w);
  interfacePointer(w, objref);
  w.align(4).u32(hr);
  return w.finish();
}

export function encodeNextReply(objects: Uint8Array[], max: number, hr: number): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThat(w);
  w.u32(max).u32(0).u32(objects.length);
  for (let i = 0; i < objects.length; i++) w.pointer();
  for (const o of objects) w.u32(o.length).u32(o.length).bytes(o).align(4);
  w.u32(objects.length).u32(hr);
  return w.finish();
}

export function encodeHresultReply(hr: number): Uint8Array {
  const w = new NdrWriter();
  writeOrpcThat(w);
  w.u32(hr);
  return w.finish();
}
