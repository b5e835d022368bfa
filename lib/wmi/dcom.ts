/**
 * DCOM marshalling (MS-DCOM 2.2): ORPCTHIS/ORPCTHAT, OBJREF (standard and custom),
 * DUALSTRINGARRAY, and the activation properties of IRemoteSCMActivator::RemoteCreateInstance,
 * request and reply, as impacket and Windows lay them out.
 */
import { WmiProtocolError } from "./errors.ts";
import { guid, NdrReader, NdrWriter, sameBytes } from "./ndr.ts";

export const IID = {
  IRemoteSCMActivator: guid("000001A0-0000-0000-C000-000000000046"),
  IRemUnknown2: guid("00000143-0000-0000-C000-000000000046"),
  IRemUnknown: guid("00000131-0000-0000-C000-000000000046"),
  IWbemLevel1Login: guid("F309AD18-D86A-11D0-A075-00C04FB68820"),
  IWbemServices: guid("9556DC99-828C-11CF-A37E-00AA003240C7"),
  IEnumWbemClassObject: guid("027947E1-D731-11CE-A357-000000000001"),
  IWbemClassObject: guid("DC12A681-737F-11CF-884D-00AA004B2E24"),
  IActivationPropertiesIn: guid("000001A2-0000-0000-C000-000000000046"),
  IActivationPropertiesOut: guid("000001A3-0000-0000-C000-000000000046"),
  IObjectExporter: guid("99FCFEC4-5260-101B-BBCB-00AA0021347A"),
};

export const CLSID = {
  WbemLevel1Login: guid("8BC3F05E-D86B-11D0-A075-00C04FB68820"),
  WbemClassObject: guid("4590F812-1D3A-11D0-891F-00AA004B2E24"),
  ActivationPropertiesIn: guid("00000338-0000-0000-C000-000000000046"),
  ActivationPropertiesOut: guid("00000339-0000-0000-C000-000000000046"),
  InstantiationInfo: guid("000001AB-0000-0000-C000-000000000046"),
  ActivationContextInfo: guid("000001A5-0000-0000-C000-000000000046"),
  ServerLocationInfo: guid("000001A4-0000-0000-C000-000000000046"),
  ScmRequestInfo: guid("000001AA-0000-0000-C000-000000000046"),
  PropsOutInfo: guid("00000339-0000-0000-C000-000000000046"),
  ScmReplyInfo: guid("000001B6-0000-0000-C000-000000000046"),
};

const MEOW = 0x574f454d;
export const OBJREF_STANDARD = 1;
export const OBJREF_CUSTOM = 4;
export const SORF_NOPING = 0x1000;

/** ORPCTHIS: COMVERSION 5.7, flags, reserved, causality id, no extensions. */
export function writeOrpcThis(w: NdrWriter, cid: Uint8Array, flags = 0): void {
  w.u16(5).u16(7).u32(flags).u32(0).guid(cid).u32(0);
}

export function readOrpcThis(r: NdrReader): void {
  r.u16();
  r.u16();
  r.u32();
  r.u32();
  r.guid();
  if (r.u32() !== 0) skipExtents(r);
}

export function writeOrpcThat(w: NdrWriter): void {
  w.u32(0).u32(0);
}

/** ORPCTHAT; extensions (e.g. error info on failures) are skipped, not assumed absent. */
export function readOrpcThat(r: NdrReader): void {
  r.u32();
  if (r.u32() !== 0) skipExtents(r);
}

function skipExtents(r: NdrReader): void {
  // ORPC_EXTENT_ARRAY: size, reserved, unique ptr to array of unique ptrs to extents
  r.u32();
  r.u32();
  if (r.u32() === 0) return;
  const n = r.u32();
  const present: boolean[] = [];
  for (let i = 0; i < n; i++) present.push(r.u32() !== 0);
  for (const p of present) {
    if (!p) continue;
    r.guid();
    r.u32();
    const size = r.u32();
    r.bytes(size);
    r.align(4);
  }
}

export interface StdObjRef {
  iid: Uint8Array;
  flags: number;
  publicRefs: number;
  oxid: bigint;
  oid: bigint;
  ipid: Uint8Array;
}

export function encodeStdObjRef(ref: StdObjRef, bindings: Uint8Array): Uint8Array {
  const w = new NdrWriter();
  w.u32(MEOW).u32(OBJREF_STANDARD).bytes(ref.iid);
  w.u32(ref.flags).u32(ref.publicRefs).u64(ref.oxid).u64(ref.oid).bytes(ref.ipid);
  w.bytes(bindings);
  return w.finish();
}

export function decodeObjRef(b: Uint8Array): { flags: number; iid: Uint8Array; r: NdrReader } {
  const r = new NdrReader(b);
  if (r.u32() !== MEOW) throw new WmiProtocolError("OBJREF without the MEOW signature");
  return { flags: r.u32(), iid: r.bytes(16).slice(), r };
}

export function decodeStdObjRef(b: Uint8Array): StdObjRef {
  const { flags, iid, r } = decodeObjRef(b);
  if (flags !== OBJREF_STANDARD) {
    throw new WmiProtocolError(`expected OBJREF_STANDARD, got ${flags}`);
  }
  // STDOBJREF's 64-bit members are unaligned here: OBJREF is a byte blob, not NDR
  const v = r.view;
  const at = r.pos;
  return {
    iid,
    flags: v.getUint32(at, true),
    publicRefs: v.getUint32(at + 4, true),
    oxid: v.getBigUint64(at + 8, true),
    oid: v.getBigUint64(at + 16, true),
    ipid: b.slice(at + 24, at + 40),
  };
}

export function encodeCustomObjRef(
  iid: Uint8Array,
  clsid: Uint8Array,
  data: Uint8Array,
): Uint8Array {
  const w = new NdrWriter();
  w.u32(MEOW).u32(OBJREF_CUSTOM).bytes(iid).bytes(clsid).u32(0).u32(data.length + 8).bytes(data);
  return w.finish();
}

export function decodeCustomObjRef(b: Uint8Array): { iid: Uint8Array; data: Uint8Array } {
  const { flags, iid } = decodeObjRef(b);
  if (flags !== OBJREF_CUSTOM) throw new WmiProtocolError(`expected OBJREF_CUSTOM, got ${flags}`);
  if (b.length < 48) throw new WmiProtocolError("short OBJREF_CUSTOM");
  const ext = new DataView(b.buffer, b.byteOffset).getUint32(40, true);
  return { iid, data: b.subarray(48 + ext) };
}

/** DUALSTRINGARRAY body (u16 counts then u16 entries) for tower 7 bindings + NTLM security. */
export function dualStringArray(addresses: string[], principal = ""): Uint16Array {
  const words: number[] = [];
  for (const a of addresses) {
    words.push(7);
    for (const ch of a) words.push(ch.charCodeAt(0));
    words.push(0);
  }
  words.push(0);
  const sec = words.length;
  words.push(10, 0xffff);
  for (const ch of principal) words.push(ch.charCodeAt(0));
  words.push(0, 0);
  return Uint16Array.from([words.length, sec, ...words]);
}

/** As raw bytes, the form OBJREF_STANDARD's trailing resolver address takes. */
export function dualStringArrayBytes(addresses: string[], principal = ""): Uint8Array {
  const d = dualStringArray(addresses, principal);
  const out = new Uint8Array(d.length * 2);
  const v = new DataView(out.buffer);
  d.forEach((x, i) => v.setUint16(i * 2, x, true));
  return out;
}

/** The tower-7 (ncacn_ip_tcp) string bindings of a DUALSTRINGARRAY body. */
export function stringBindings(entries: number[], securityOffset: number): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < securityOffset && entries[i] !== 0) {
    const tower = entries[i++];
    let s = "";
    while (i < entries.length && entries[i] !== 0) s += String.fromCharCode(entries[i++]);
    i++;
    if (tower === 7) out.push(s);
  }
  return out;
}

// ---------------------------------------------------------------- activation (client side)

/** The 16-byte NDR type-serialisation header (version 1) + private header with the body length. */
function typeSerialized(body: Uint8Array, fill = 0xfa): Uint8Array {
  const pad = (8 - (body.length % 8)) % 8;
  const w = new NdrWriter();
  w.bytes(new Uint8Array([1, 0x10, 8, 0, 0xcc, 0xcc, 0xcc, 0xcc])).u32(body.length).u32(0xcccccccc);
  w.bytes(body);
  for (let i = 0; i < pad; i++) w.u8(fill);
  return w.finish();
}

function propertyBody(fn: (w: NdrWriter) => void): Uint8Array {
  const w = new NdrWriter();
  fn(w);
  return w.finish();
}

/** Stub of RemoteCreateInstance (opnum 4) asking for IWbemLevel1Login, laid out as impacket does. */
export function encodeRemoteCreateInstance(cid: Uint8Array): Uint8Array {
  const inst = typeSerialized(propertyBody((w) => {
    // classId, classCtx, actvflags, fIsSurrogate, cIID 1, instFlag, pIID, thisSize (impacket: 0),
    // clientCOMVersion 5.7, then pIID's referent
    w.bytes(CLSID.WbemLevel1Login).u32(0).u32(0).u32(0).u32(1).u32(0).pointer().u32(0);
    w.u16(5).u16(7).u32(1).bytes(IID.IWbemLevel1Login);
  }));
  const ctx = typeSerialized(propertyBody((w) => w.u32(0).u32(0).u32(0).u32(0).u32(0).u32(0)));
  const loc = typeSerialized(propertyBody((w) => w.u32(0).u32(0).u32(0).u32(0)));
  const scm = typeSerialized(propertyBody((w) => {
    w.u32(0).pointer().u32(0).u16(1).pointer().u32(1).u16(7);
  }));
  const props = [inst, ctx, loc, scm];
  const clsids = [
    CLSID.InstantiationInfo,
    CLSID.ActivationContextInfo,
    CLSID.ServerLocationInfo,
    CLSID.ScmRequestInfo,
  ];
  const blob = activationBlob(clsids, props, 2);
  const objref = encodeCustomObjRef(
    IID.IActivationPropertiesIn,
    CLSID.ActivationPropertiesIn,
    blob,
  );
  const w = new NdrWriter();
  writeOrpcThis(w, cid, 1);
  w.u32(0); // pUnkOuter NULL
  w.pointer().u32(objref.length).u32(objref.length).bytes(objref);
  return w.finish();
}

function activationBlob(clsids: Uint8Array[], props: Uint8Array[], destCtx: number): Uint8Array {
  const propLen = props.reduce((n, p) => n + p.length, 0);
  const hb = new NdrWriter();
  hb.u32(0).u32(0).u32(0).u32(destCtx).u32(props.length).bytes(new Uint8Array(16));
  hb.pointer().pointer().u32(0);
  hb.u32(props.length);
  for (const c of clsids) hb.bytes(c);
  hb.u32(props.length);
  for (const p of props) hb.u32(p.length);
  const header = typeSerialized(hb.finish());
  const total = header.length + propLen;
  const hv = new DataView(header.buffer);
  hv.setUint32(16, total, true);
  hv.setUint32(20, header.length, true);
  const w = new NdrWriter();
  w.u32(total).u32(0).bytes(header);
  for (const p of props) w.bytes(p);
  return w.finish();
}

export interface ActivationResult {
  oxid: bigint;
  bindings: string[];
  ipidRemUnknown: Uint8Array;
  authnHint: number;
  hresult: number;
  /** OBJREF_STANDARD of the IWbemLevel1Login object */
  login?: StdObjRef;
}

function readTypeSerialized(b: Uint8Array, at: number): NdrReader {
  // body alignment is relative to the body start (an 8-byte boundary of the blob)
  return new NdrReader(b.subarray(at + 16));
}

/** Parses RemoteCreateInstance's reply stub (after ORPCTHAT handling). */
export function decodeRemoteCreateInstanceReply(stub: Uint8Array): ActivationResult {
  const r = new NdrReader(stub);
  readOrpcThat(r);
  const ptr = r.u32();
  let result: ActivationResult | undefined;
  if (ptr !== 0) {
    const cnt = r.u32();
    r.u32();
    const objref = r.bytes(cnt).slice();
    r.align(4);
    result = decodeActivationProperties(decodeCustomObjRef(objref).data);
  }
  const hresult = r.u32();
  if (!result) {
    return { oxid: 0n, bindings: [], ipidRemUnknown: new Uint8Array(16), authnHint: 0, hresult };
  }
  result.hresult = hresult;
  return result;
}

function decodeActivationProperties(blob: Uint8Array): ActivationResult {
  const r = new NdrReader(blob);
  r.u32();
  r.u32();
  const hdr = readTypeSerialized(blob, 8);
  hdr.u32();
  const headerSize = hdr.u32();
  hdr.u32();
  hdr.u32();
  const cIfs = hdr.u32();
  hdr.bytes(16);
  hdr.u32();
  hdr.u32();
  hdr.u32();
  const n1 = hdr.u32();
  const clsids: Uint8Array[] = [];
  for (let i = 0; i < n1; i++) clsids.push(hdr.bytes(16).slice());
  const n2 = hdr.u32();
  const sizes: number[] = [];
  for (let i = 0; i < n2; i++) sizes.push(hdr.u32());
  if (cIfs !== sizes.length) throw new WmiProtocolError("activation reply header is inconsistent");
  let at = 8 + headerSize;
  const out: ActivationResult = {
    oxid: 0n,
    bindings: [],
    ipidRemUnknown: new Uint8Array(16),
    authnHint: 0,
    hresult: 0,
  };
  for (let i = 0; i < sizes.length; i++) {
    const p = readTypeSerialized(blob, at);
    if (sameBytes(clsids[i], CLSID.ScmReplyInfo)) {
      p.u32();
      if (p.u32() !== 0) {
        out.oxid = p.u64();
        const dsa = p.u32();
        out.ipidRemUnknown = p.guid();
        out.authnHint = p.u32();
        p.u16();
        p.u16();
        if (dsa !== 0) {
          p.u32();
          const num = p.u16();
          const secOff = p.u16();
          const words: number[] = [];
          for (let k = 0; k < num; k++) words.push(p.u16());
          out.bindings = stringBindings(words, secOff);
        }
      }
    } else if (sameBytes(clsids[i], CLSID.PropsOutInfo)) {
      const n = p.u32();
      const piid = p.u32();
      const phr = p.u32();
      const ppIntf = p.u32();
      if (piid) {
        const k = p.u32();
        for (let j = 0; j < k; j++) p.guid();
      }
      let hr = 0;
      if (phr) {
        const k = p.u32();
        for (let j = 0; j < k; j++) {
          const v = p.u32();
          if (j === 0) hr = v;
        }
      }
      if (hr !== 0) out.hresult = hr;
      if (ppIntf && n > 0) {
        const k = p.u32();
        const ptrs: number[] = [];
        for (let j = 0; j < k; j++) ptrs.push(p.u32());
        for (let j = 0; j < k; j++) {
          if (!ptrs[j]) continue;
          const len = p.u32();
          p.u32();
          const bytes = p.bytes(len).slice();
          p.align(4);
          if (j === 0 && hr === 0) out.login = decodeStdObjRef(bytes);
        }
      }
    }
    at += sizes[i];
  }
  return out;
}

// ---------------------------------------------------------------- activation (server side)

export interface ActivationReply {
  login: Uint8Array;
  oxid: bigint;
  bindings: string[];
  ipidRemUnknown: Uint8Array;
  authnHint: number;
}

/** RemoteCreateInstance reply stub: PropsOutInfo first and ScmReplyInfo second (impacket needs it). */
export function encodeRemoteCreateInstanceReply(a: ActivationReply): Uint8Array {
  const props = typeSerialized(propertyBody((w) => {
    w.u32(1).pointer().pointer().pointer();
    w.u32(1).bytes(IID.IWbemLevel1Login);
    w.u32(1).u32(0);
    w.u32(1).pointer();
    w.u32(a.login.length).u32(a.login.length).bytes(a.login);
  }));
  const scm = typeSerialized(propertyBody((w) => {
    w.u32(0).pointer();
    w.u64(a.oxid).pointer().guid(a.ipidRemUnknown).u32(a.authnHint).u16(5).u16(7);
    const dsa = dualStringArray(a.bindings);
    w.u32(dsa.length - 2).u16(dsa[0]).u16(dsa[1]);
    for (let i = 2; i < dsa.length; i++) w.u16(dsa[i]);
  }));
  const blob = activationBlob([CLSID.PropsOutInfo, CLSID.ScmReplyInfo], [props, scm], 2);
  const objref = encodeCustomObjRef(
    IID.IActivationPropertiesOut,
    CLSID.ActivationPropertiesOut,
    blob,
  );
  const w = new NdrWriter();
  writeOrpcThat(w);
  w.pointer().u32(objref.length).u32(objref.length).bytes(objref);
  w.align(4).u32(0);
  return w.finish();
}
