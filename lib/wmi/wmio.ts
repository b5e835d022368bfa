/**
 * MS-WMIO object encoding (2.2.1-2.2.82): the EncodingUnit an IWbemClassObject travels in.
 * The decoder reads instances with their class part (what IEnumWbemClassObject::Next returns);
 * the encoder writes the same shape, for the simulator. 64-bit integers are 8-byte integers on
 * this wire (not strings as in WS-Man); datetimes are DMTF strings.
 */
import { WmiProtocolError } from "./errors.ts";

export const CIM = {
  sint8: 16,
  uint8: 17,
  sint16: 2,
  uint16: 18,
  sint32: 3,
  uint32: 19,
  sint64: 20,
  uint64: 21,
  real32: 4,
  real64: 5,
  boolean: 11,
  string: 8,
  datetime: 101,
  reference: 102,
  char16: 103,
  object: 13,
} as const;
export const CIM_ARRAY = 0x2000;
const CIM_INHERITED = 0x4000;
const SIGNATURE = 0x12345678;

export type CimValue = string | number | bigint | boolean | null | CimValue[];

export interface CimProperty {
  name: string;
  /** CIM type, with CIM_ARRAY for arrays */
  type: number;
  value: CimValue;
}

export interface CimInstance {
  className: string;
  /** in declaration order */
  properties: CimProperty[];
}

const DICTIONARY = [
  '"',
  "key",
  "",
  "read",
  "write",
  "volatile",
  "provider",
  "dynamic",
  "cimwin32",
  "DWORD",
  "CIMTYPE",
];

function valueSize(type: number): number {
  if (type & CIM_ARRAY) return 4;
  switch (type) {
    case CIM.sint8:
    case CIM.uint8:
      return 1;
    case CIM.sint16:
    case CIM.uint16:
    case CIM.char16:
    case CIM.boolean:
      return 2;
    case CIM.sint64:
    case CIM.uint64:
    case CIM.real64:
      return 8;
    default:
      return 4;
  }
}

// ---------------------------------------------------------------- decoding

class Cursor {
  readonly v: DataView;
  constructor(readonly b: Uint8Array, public pos = 0) {
    this.v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.b.length) throw new WmiProtocolError("WMI object ends early");
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }
  u16(): number {
    this.need(2);
    const x = this.v.getUint16(this.pos, true);
    this.pos += 2;
    return x;
  }
  u32(): number {
    this.need(4);
    const x = this.v.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

/**
 * What decoding one object may produce: characters of its strings plus elements of its
 * arrays, at most twice the object's own bytes (`decodeInstance`). A string is stored once in
 * the heap and each value holds a reference to it, so a host can point 20,000 elements of a
 * string array at one 100,000-character string: 160 KB on the wire decoded into gigabytes,
 * synchronously, until the poller Worker ran out of memory and took the process with it.
 * Honest objects decode to about their size; twice leaves room for values that share a string.
 */
class DecodeBudget {
  constructor(private left: number) {}
  spend(n: number): void {
    this.left -= n;
    if (this.left < 0) {
      throw new WmiProtocolError(
        "the WMI object decodes to far more than its size (values sharing one string)",
      );
    }
  }
}

const utf16le = new TextDecoder("utf-16le");

/** Latin-1 bytes as they are (TextDecoder's "latin1" is windows-1252: 0x80-0x9f differ). */
function latin1(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** An Encoded-String at `at`: flag 0 = Latin-1 bytes, 1 = UTF-16LE, NUL-terminated. */
function encodedString(b: Uint8Array, at: number, budget: DecodeBudget): string {
  if (at >= b.length) throw new WmiProtocolError("string reference outside the heap");
  if (b[at] === 0) {
    let end = b.indexOf(0, at + 1);
    if (end < 0) end = b.length;
    budget.spend(end - at - 1);
    return latin1(b.subarray(at + 1, end));
  }
  let end = at + 1;
  while (end + 1 < b.length && (b[end] | b[end + 1]) !== 0) end += 2;
  budget.spend((end - at - 1) >> 1);
  return utf16le.decode(b.subarray(at + 1, end));
}

function heap(c: Cursor): Uint8Array {
  const len = c.u32() & 0x7fffffff;
  return c.take(len);
}

function heapString(h: Uint8Array, ref: number, budget: DecodeBudget): string {
  if (ref & 0x80000000) return DICTIONARY[ref & 0x7fffffff] ?? "";
  return encodedString(h, ref, budget);
}

interface ClassInfo {
  name: string;
  props: { name: string; type: number; order: number; offset: number }[];
  ndvtLength: number;
  defaults: Uint8Array;
  heap: Uint8Array;
}

function readClassPart(c: Cursor, budget: DecodeBudget): ClassInfo {
  const start = c.pos;
  const length = c.u32();
  c.u8();
  const nameRef = c.u32();
  const ndvtLength = c.u32();
  const deriv = c.u32();
  c.pos += deriv - 4;
  const qual = c.u32();
  c.pos += qual - 4;
  const count = c.u32();
  const lookups: [number, number][] = [];
  for (let i = 0; i < count; i++) lookups.push([c.u32(), c.u32()]);
  const defaults = c.take(ndvtLength);
  const h = heap(c);
  c.pos = start + length;
  const props = lookups.map(([nameRef, infoRef]) => {
    if (infoRef + 14 > h.length) throw new WmiProtocolError("property info outside the heap");
    const v = new DataView(h.buffer, h.byteOffset + infoRef, 14);
    return {
      name: heapString(h, nameRef, budget),
      type: v.getUint32(0, true) & ~CIM_INHERITED,
      order: v.getUint16(4, true),
      offset: v.getUint32(6, true),
    };
  });
  props.sort((a, b) => a.order - b.order);
  return { name: heapString(h, nameRef, budget), props, ndvtLength, defaults, heap: h };
}

function readValue(
  type: number,
  vt: DataView,
  at: number,
  h: Uint8Array,
  budget: DecodeBudget,
): CimValue {
  if (at + valueSize(type) > vt.byteLength) throw new WmiProtocolError("value outside the table");
  if (type & CIM_ARRAY) {
    const ref = vt.getUint32(at, true);
    if (ref === 0xffffffff) return null;
    const base = type & ~CIM_ARRAY;
    const size = valueSize(base);
    if (ref + 4 > h.length) throw new WmiProtocolError("array outside the heap");
    const hv = new DataView(h.buffer, h.byteOffset, h.byteLength);
    const n = hv.getUint32(ref, true);
    if (ref + 4 + n * size > h.length) throw new WmiProtocolError("array outside the heap");
    budget.spend(n);
    const out: CimValue[] = [];
    for (let i = 0; i < n; i++) out.push(readValue(base, hv, ref + 4 + i * size, h, budget));
    return out;
  }
  switch (type) {
    case CIM.sint8:
      return vt.getInt8(at);
    case CIM.uint8:
      return vt.getUint8(at);
    case CIM.sint16:
      return vt.getInt16(at, true);
    case CIM.uint16:
    case CIM.char16:
      return vt.getUint16(at, true);
    case CIM.sint32:
      return vt.getInt32(at, true);
    case CIM.uint32:
      return vt.getUint32(at, true);
    case CIM.sint64:
      return safe(vt.getBigInt64(at, true));
    case CIM.uint64:
      return safe(vt.getBigUint64(at, true));
    case CIM.real32:
      return vt.getFloat32(at, true);
    case CIM.real64:
      return vt.getFloat64(at, true);
    case CIM.boolean:
      return vt.getUint16(at, true) !== 0;
    case CIM.string:
    case CIM.datetime:
    case CIM.reference: {
      const ref = vt.getUint32(at, true);
      return ref === 0xffffffff ? null : encodedString(h, ref, budget);
    }
    default:
      return null; // embedded objects are not used by the collector
  }
}

function safe(b: bigint): number | bigint {
  return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER)
    ? Number(b)
    : b;
}

/** Decodes an EncodingUnit holding an instance (ObjectFlags 0x02, optionally decorated). */
export function decodeInstance(unit: Uint8Array): CimInstance {
  const c = new Cursor(unit);
  if (c.u32() !== SIGNATURE) throw new WmiProtocolError("WMI object without its signature");
  const len = c.u32();
  c.need(len);
  const flags = c.u8();
  if (flags & 0x04) {
    for (let k = 0; k < 2; k++) {
      const wide = c.u8() === 1;
      if (wide) { while (c.u16() !== 0); }
      else while (c.u8() !== 0);
    }
  }
  if (!(flags & 0x02)) throw new WmiProtocolError(`WMI object is not an instance (${flags})`);
  const budget = new DecodeBudget(2 * unit.length + 4096);
  const cls = readClassPart(c, budget);
  const n = cls.props.length;
  const ndLen = n === 0 ? 0 : ((n - 1) >> 2) + 1;
  c.u32();
  c.u8();
  const nameRef = c.u32();
  const ndvt = c.take(cls.ndvtLength);
  const qset = c.u32();
  c.pos += qset - 4;
  const propQual = c.u8();
  if (propQual === 2) {
    for (let i = 0; i < n; i++) c.pos += c.u32() - 4;
  }
  const h = heap(c);
  const vt = new DataView(ndvt.buffer, ndvt.byteOffset + ndLen, ndvt.length - ndLen);
  const dvt = new DataView(
    cls.defaults.buffer,
    cls.defaults.byteOffset + ndLen,
    cls.defaults.length - ndLen,
  );
  const properties: CimProperty[] = cls.props.map((p) => {
    const bits = (ndvt[p.order >> 2] >> ((p.order & 3) * 2)) & 3;
    let value: CimValue = null;
    if (bits & 2) {
      const dbits = (cls.defaults[p.order >> 2] >> ((p.order & 3) * 2)) & 3;
      if (!(dbits & 1)) value = readValue(p.type, dvt, p.offset, cls.heap, budget);
    } else if (!(bits & 1)) value = readValue(p.type, vt, p.offset, h, budget);
    return { name: p.name, type: p.type, value };
  });
  return { className: heapString(h, nameRef, budget) || cls.name, properties };
}

// ---------------------------------------------------------------- encoding

class Heap {
  parts: Uint8Array[] = [];
  length = 0;
  add(b: Uint8Array): number {
    const at = this.length;
    this.parts.push(b);
    this.length += b.length;
    return at;
  }
  encode(): Uint8Array {
    const out = new Uint8Array(4 + this.length);
    new DataView(out.buffer).setUint32(0, (this.length | 0x80000000) >>> 0, true);
    let o = 4;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

export function encodeString(s: string): Uint8Array {
  let ascii = true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) ascii = false;
  if (ascii) {
    const out = new Uint8Array(s.length + 2);
    for (let i = 0; i < s.length; i++) out[i + 1] = s.charCodeAt(i);
    return out;
  }
  const out = new Uint8Array(1 + s.length * 2 + 2);
  out[0] = 1;
  for (let i = 0; i < s.length; i++) {
    out[1 + i * 2] = s.charCodeAt(i) & 0xff;
    out[2 + i * 2] = s.charCodeAt(i) >> 8;
  }
  return out;
}

class Bytes {
  buf: number[] = [];
  u8(x: number) {
    this.buf.push(x & 0xff);
    return this;
  }
  u16(x: number) {
    return this.u8(x).u8(x >> 8);
  }
  u32(x: number) {
    x >>>= 0;
    return this.u8(x).u8(x >>> 8).u8(x >>> 16).u8(x >>> 24);
  }
  bytes(b: Uint8Array) {
    for (const x of b) this.buf.push(x);
    return this;
  }
  get length() {
    return this.buf.length;
  }
  finish() {
    return Uint8Array.from(this.buf);
  }
}

const TYPE_NAME: Record<number, string> = {
  [CIM.sint8]: "sint8",
  [CIM.uint8]: "uint8",
  [CIM.sint16]: "sint16",
  [CIM.uint16]: "uint16",
  [CIM.sint32]: "sint32",
  [CIM.uint32]: "uint32",
  [CIM.sint64]: "sint64",
  [CIM.uint64]: "uint64",
  [CIM.real32]: "real32",
  [CIM.real64]: "real64",
  [CIM.boolean]: "boolean",
  [CIM.string]: "string",
  [CIM.datetime]: "datetime",
  [CIM.reference]: "ref",
  [CIM.char16]: "char16",
};

function qualifierSet(quals: Uint8Array[]): Uint8Array {
  const body = quals.reduce((n, q) => n + q.length, 0);
  const b = new Bytes().u32(body + 4);
  for (const q of quals) b.bytes(q);
  return b.finish();
}

function ndTable(bits: number[]): Uint8Array {
  const out = new Uint8Array(bits.length === 0 ? 0 : ((bits.length - 1) >> 2) + 1);
  bits.forEach((f, i) => out[i >> 2] |= (f & 3) << ((i & 3) * 2));
  return out;
}

function writeValue(b: Bytes, type: number, v: CimValue, h: Heap): void {
  if (type & CIM_ARRAY) {
    const base = type & ~CIM_ARRAY;
    const items = Array.isArray(v) ? v : [];
    const a = new Bytes().u32(items.length);
    for (const x of items) {
      // string elements are HeapRefs: their text goes into the heap before the array
      if (base === CIM.string || base === CIM.datetime || base === CIM.reference) {
        a.u32(h.add(encodeString(String(x ?? ""))));
      } else writeValue(a, base, x, h);
    }
    b.u32(h.add(a.finish()));
    return;
  }
  const dv = new DataView(new ArrayBuffer(8));
  switch (type) {
    case CIM.sint8:
    case CIM.uint8:
      b.u8(Number(v));
      return;
    case CIM.sint16:
    case CIM.uint16:
    case CIM.char16:
      b.u16(Number(v));
      return;
    case CIM.boolean:
      b.u16(v ? 0xffff : 0);
      return;
    case CIM.sint32:
    case CIM.uint32:
      b.u32(Number(v));
      return;
    case CIM.sint64:
    case CIM.uint64:
      dv.setBigUint64(
        0,
        BigInt.asUintN(64, BigInt(typeof v === "bigint" ? v : Math.trunc(Number(v)))),
        true,
      );
      b.bytes(new Uint8Array(dv.buffer));
      return;
    case CIM.real32:
      dv.setFloat32(0, Number(v), true);
      b.bytes(new Uint8Array(dv.buffer, 0, 4));
      return;
    case CIM.real64:
      dv.setFloat64(0, Number(v), true);
      b.bytes(new Uint8Array(dv.buffer));
      return;
    default:
      b.u32(h.add(encodeString(String(v))));
  }
}

/**
 * An EncodingUnit for one instance with its class part (no methods), laid out as Windows and
 * impacket expect: DeclarationOrder 0..n-1, ValueTableOffset consistent with it, the class
 * name at instance-heap offset 0, NULL strings as 0xFFFFFFFF.
 */
export function encodeInstance(
  inst: CimInstance,
  server = "WINSIM",
  namespace = "ROOT\\cimv2",
): Uint8Array {
  const props = inst.properties;
  // ---- class part
  const ch = new Heap();
  const classNameRef = ch.add(encodeString(inst.className));
  const lookups: { name: string; nameRef: number; infoRef: number }[] = [];
  let vtLen = 0;
  props.forEach((p, order) => {
    const nameRef = ch.add(encodeString(p.name));
    const base = p.type & ~CIM_ARRAY;
    const tname = (TYPE_NAME[base] ?? "string") + (p.type & CIM_ARRAY ? "[]" : "");
    const tref = ch.add(encodeString(tname));
    const pq = qualifierSet([new Bytes().u32(0x8000000a).u8(0).u32(CIM.string).u32(tref).finish()]);
    const info = new Bytes().u32(p.type).u16(order).u32(vtLen).u32(0).bytes(pq).finish();
    lookups.push({ name: p.name, nameRef, infoRef: ch.add(info) });
    vtLen += valueSize(p.type);
  });
  lookups.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const nd = ndTable(props.map(() => 1));
  const ndvtLen = nd.length + vtLen;
  const cls = new Bytes();
  cls.u32(4); // derivation list: none
  cls.bytes(qualifierSet([]));
  cls.u32(props.length);
  for (const l of lookups) cls.u32(l.nameRef).u32(l.infoRef);
  cls.bytes(nd);
  for (let i = 0; i < vtLen; i++) cls.u8(0xff);
  cls.bytes(ch.encode());
  const classPart = new Bytes().u32(13 + cls.length).u8(0).u32(classNameRef).u32(ndvtLen)
    .bytes(cls.finish()).finish();
  // ---- instance part
  const ih = new Heap();
  const cname = ih.add(encodeString(inst.className));
  const vt = new Bytes();
  const bits: number[] = [];
  for (const p of props) {
    if (p.value === null || p.value === undefined) {
      bits.push(1);
      for (let i = 0; i < valueSize(p.type); i++) vt.u8(0xff);
    } else {
      bits.push(0);
      writeValue(vt, p.type, p.value, ih);
    }
  }
  const body = new Bytes().u8(0).u32(cname).bytes(ndTable(bits)).bytes(vt.finish())
    .u32(4).u8(1).bytes(ih.encode()).finish();
  const instPart = new Bytes().u32(body.length + 4).bytes(body).finish();
  const block = new Bytes().u8(0x06).bytes(encodeString(server)).bytes(encodeString(namespace))
    .bytes(classPart).bytes(instPart).finish();
  return new Bytes().u32(SIGNATURE).u32(block.length).bytes(block).finish();
}
