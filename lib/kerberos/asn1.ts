/**
 * The DER subset Kerberos (RFC 4120 §5) needs: definite lengths, context and application
 * tags, INTEGER, OCTET STRING, GeneralString, GeneralizedTime, BIT STRING, OID. The reader
 * checks every length against its buffer, so hostile input gives KerberosProtocolError.
 */
import { concatBytes } from "../bytes.ts";
import { KerberosProtocolError } from "./errors.ts";

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  ENUMERATED: 0x0a,
  SEQUENCE: 0x30,
  GENERAL_STRING: 0x1b,
  GENERALIZED_TIME: 0x18,
} as const;

const te = new TextEncoder();
const td = new TextDecoder();

/** The parts, one after another (lib/bytes.ts). */
export const concat = concatBytes;

/** A TLV with the given tag byte around the concatenated contents. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = content.length === 1 ? content[0] : concat(...content);
  const n = body.length;
  const head = n < 0x80
    ? [tag, n]
    : n < 0x100
    ? [tag, 0x81, n]
    : n < 0x10000
    ? [tag, 0x82, n >> 8, n & 255]
    : [tag, 0x83, n >> 16, (n >> 8) & 255, n & 255];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(body, head.length);
  return out;
}

export const seq = (...items: Uint8Array[]) => tlv(TAG.SEQUENCE, ...items);
/** [n] EXPLICIT */
export const ctx = (n: number, inner: Uint8Array) => tlv(0xa0 | n, inner);
/** [APPLICATION n] */
export const app = (n: number, inner: Uint8Array) => tlv(0x60 | n, inner);
export const octets = (b: Uint8Array) => tlv(TAG.OCTET_STRING, b);
export const gstring = (s: string) => tlv(TAG.GENERAL_STRING, te.encode(s));

export function int(v: number): Uint8Array {
  // Two's complement, minimal length; Kerberos integers fit in 32 bits signed or unsigned.
  const bytes: number[] = [];
  let x = BigInt(v);
  for (;;) {
    bytes.unshift(Number(x & 0xffn));
    x >>= 8n;
    const sign = bytes[0] & 0x80;
    if ((x === 0n && !sign) || (x === -1n && sign)) break;
  }
  return tlv(TAG.INTEGER, new Uint8Array(bytes));
}

/** A 32-bit flags BIT STRING (KDCOptions, APOptions): bit 0 is the most significant. */
export function flags32(v: number): Uint8Array {
  return tlv(
    TAG.BIT_STRING,
    new Uint8Array([0, v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]),
  );
}

/** KerberosTime: GeneralizedTime "YYYYMMDDHHMMSSZ", whole seconds. */
export function time(ms: number): Uint8Array {
  const s = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return tlv(TAG.GENERALIZED_TIME, te.encode(s + "Z"));
}

/** A read TLV: its tag and the bounds of its content within `buf`. */
export class Der {
  constructor(
    readonly buf: Uint8Array,
    readonly tag: number,
    readonly start: number,
    readonly end: number,
    /** where the whole TLV (tag included) begins */
    readonly from: number,
  ) {}

  static read(buf: Uint8Array, at = 0, limit = buf.length): Der {
    if (at + 2 > limit) throw new KerberosProtocolError("DER truncated");
    const tag = buf[at];
    if ((tag & 0x1f) === 0x1f) throw new KerberosProtocolError("DER high tag numbers unsupported");
    let len = buf[at + 1];
    let p = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || p + n > limit) throw new KerberosProtocolError("bad DER length");
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
      p += n;
    }
    if (p + len > limit) throw new KerberosProtocolError("DER truncated");
    return new Der(buf, tag, p, p + len, at);
  }

  /** The whole TLV's bytes (a view). */
  get raw(): Uint8Array {
    return this.buf.subarray(this.from, this.end);
  }

  get content(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  expect(tag: number, what: string): Der {
    if (this.tag !== tag) {
      throw new KerberosProtocolError(
        `${what}: expected tag 0x${tag.toString(16)}, got 0x${this.tag.toString(16)}`,
      );
    }
    return this;
  }

  children(): Der[] {
    const out: Der[] = [];
    for (let at = this.start; at < this.end;) {
      const c = Der.read(this.buf, at, this.end);
      out.push(c);
      at = c.end;
    }
    return out;
  }

  /** The single TLV inside (for [APPLICATION n] and [n] EXPLICIT wrappers). */
  inner(): Der {
    return Der.read(this.buf, this.start, this.end);
  }

  /** A SEQUENCE's context-tagged fields, by tag number, each unwrapped to its inner TLV. */
  fields(what: string): Map<number, Der> {
    this.expect(TAG.SEQUENCE, what);
    const out = new Map<number, Der>();
    for (const c of this.children()) {
      if ((c.tag & 0xe0) === 0xa0) out.set(c.tag & 0x1f, c.inner());
    }
    return out;
  }

  int(): number {
    this.expect(TAG.INTEGER, "INTEGER");
    const n = this.end - this.start;
    if (n < 1 || n > 5) throw new KerberosProtocolError("INTEGER out of range");
    let v = 0;
    for (let i = this.start; i < this.end; i++) v = v * 256 + this.buf[i];
    return this.buf[this.start] & 0x80 ? v - 256 ** n : v;
  }

  octets(): Uint8Array {
    return this.expect(TAG.OCTET_STRING, "OCTET STRING").content;
  }

  string(): string {
    if (this.tag !== TAG.GENERAL_STRING && this.tag !== 0x0c && this.tag !== 0x16) {
      throw new KerberosProtocolError("expected a string");
    }
    return td.decode(this.content);
  }

  /** GeneralizedTime → ms since the epoch. */
  time(): number {
    const s = td.decode(this.expect(TAG.GENERALIZED_TIME, "KerberosTime").content);
    const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(?:\.\d+)?Z$/.exec(s);
    if (!m) throw new KerberosProtocolError("bad KerberosTime");
    return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
  }

  bits(): number {
    const c = this.expect(TAG.BIT_STRING, "BIT STRING").content;
    let v = 0;
    for (let i = 1; i < 5; i++) v = (v << 8) | (c[i] ?? 0);
    return v >>> 0;
  }
}

/** The field or a protocol error naming it. */
export function need(f: Map<number, Der>, n: number, what: string): Der {
  const d = f.get(n);
  if (!d) throw new KerberosProtocolError(`${what} missing`);
  return d;
}
