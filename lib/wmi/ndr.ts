/**
 * NDR 2.0 (little-endian) writer and reader for the handful of types DCOM/WMI use: aligned
 * integers, GUIDs, unique pointers, conformant (varying) arrays and strings. Alignment is
 * relative to the start of the stub, which is how every PDU body starts.
 */
import { WmiProtocolError } from "./errors.ts";

/** "000001A0-0000-0000-C000-000000000046" -> 16 bytes in the wire (mixed-endian) order. */
export function guid(s: string): Uint8Array {
  const h = s.replace(/[{}-]/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new RangeError(`not a GUID: ${s}`);
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(h.substr(i * 2, 2), 16);
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

export function guidString(b: Uint8Array): string {
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0"));
  const r = (a: string[]) => a.slice().reverse().join("");
  return `${r(x.slice(0, 4))}-${r(x.slice(4, 6))}-${r(x.slice(6, 8))}-${x.slice(8, 10).join("")}-${
    x.slice(10).join("")
  }`.toUpperCase();
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class NdrWriter {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  length = 0;
  #ref = 0x00020000;

  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  align(n: number, fill = 0): this {
    const pad = (n - (this.length % n)) % n;
    this.#room(pad);
    this.#buf.fill(fill, this.length, this.length + pad);
    this.length += pad;
    return this;
  }

  u8(v: number): this {
    this.#room(1);
    this.#buf[this.length++] = v;
    return this;
  }

  u16(v: number): this {
    this.align(2);
    this.#room(2);
    this.#view.setUint16(this.length, v, true);
    this.length += 2;
    return this;
  }

  u32(v: number): this {
    this.align(4);
    this.#room(4);
    this.#view.setUint32(this.length, v >>> 0, true);
    this.length += 4;
    return this;
  }

  u64(v: bigint): this {
    this.align(8);
    this.#room(8);
    this.#view.setBigUint64(this.length, v, true);
    this.length += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#room(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** GUIDs align to 4 (their first member is a u32). */
  guid(b: Uint8Array): this {
    return this.align(4).bytes(b);
  }

  /** A non-null unique pointer's referent id (the referent itself follows later). */
  pointer(): this {
    const id = this.#ref;
    this.#ref += 4;
    return this.u32(id);
  }

  /** A [string] wchar_t*: max count, offset 0, actual count, UTF-16LE with the NUL. */
  wstring(s: string): this {
    const n = s.length + 1;
    this.u32(n).u32(0).u32(n);
    for (let i = 0; i < s.length; i++) this.u16(s.charCodeAt(i));
    return this.u16(0);
  }

  /** Patch a u32 written earlier. */
  setU32(at: number, v: number): void {
    this.#view.setUint32(at, v >>> 0, true);
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.length);
  }
}

export class NdrReader {
  readonly view: DataView;
  pos: number;

  constructor(readonly buf: Uint8Array, pos = 0) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }

  #need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new WmiProtocolError(`NDR data ends early (need ${n} bytes at ${this.pos})`);
    }
  }

  align(n: number): this {
    this.pos += (n - (this.pos % n)) % n;
    return this;
  }

  u8(): number {
    this.#need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.align(2).#need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.align(4).#need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): bigint {
    this.align(8).#need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  guid(): Uint8Array {
    return this.align(4).bytes(16).slice();
  }

  wstring(): string {
    this.u32();
    const offset = this.u32();
    const n = this.u32();
    if (offset !== 0 || n > (this.buf.length - this.pos) / 2) {
      throw new WmiProtocolError("bad NDR string");
    }
    let s = "";
    for (let i = 0; i < n; i++) {
      const c = this.u16();
      if (c !== 0 || i !== n - 1) s += String.fromCharCode(c);
    }
    return s;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }
}
