/** Low-level byte helpers shared by the NTLM modules. */
import { NtlmProtocolError } from "./errors.ts";

export interface AvPair {
  id: number;
  value: Uint8Array;
}

export { concatBytes } from "../../bytes.ts";

export function bytesToHex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.substr(i * 2, 2), 16);
  return out;
}

export function utf16le(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 2);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out[i * 2] = c & 0xff;
    out[i * 2 + 1] = c >> 8;
  }
  return out;
}

export function encodeString(s: string, unicode: boolean): Uint8Array {
  if (unicode) return utf16le(s);
  // OEM code page: plain 8-bit; non-Latin-1 characters cannot be represented anyway.
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

export function decodeString(b: Uint8Array, unicode: boolean): string {
  if (unicode) {
    if (b.length % 2) throw new NtlmProtocolError("odd-length UTF-16 string in NTLM message");
    let s = "";
    for (let i = 0; i < b.length; i += 2) s += String.fromCharCode(b[i] | (b[i + 1] << 8));
    return s;
  }
  let s = "";
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
  return s;
}

/** Serializes AV pairs and appends MsvAvEOL. */
export function encodeAvPairs(pairs: AvPair[]): Uint8Array {
  let n = 4;
  for (const p of pairs) n += 4 + p.value.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (const p of pairs) {
    dv.setUint16(o, p.id, true);
    dv.setUint16(o + 2, p.value.length, true);
    out.set(p.value, o + 4);
    o += 4 + p.value.length;
  }
  return out; // trailing 4 zero bytes are the EOL pair
}

/** Parses an AV pair list up to MsvAvEOL (excluded). Empty input means no pairs. */
export function decodeAvPairs(b: Uint8Array): AvPair[] {
  const pairs: AvPair[] = [];
  if (b.length === 0) return pairs;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  for (;;) {
    if (o + 4 > b.length) throw new NtlmProtocolError("AV pair list truncated");
    const id = dv.getUint16(o, true);
    const len = dv.getUint16(o + 2, true);
    if (id === 0) return pairs;
    if (o + 4 + len > b.length) throw new NtlmProtocolError("AV pair value truncated");
    pairs.push({ id, value: b.slice(o + 4, o + 4 + len) });
    o += 4 + len;
  }
}

export function getAvPair(pairs: AvPair[], id: number): Uint8Array | undefined {
  return pairs.find((p) => p.id === id)?.value;
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
