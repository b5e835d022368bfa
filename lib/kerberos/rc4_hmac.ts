/**
 * RC4-HMAC (etype 23, RFC 4757), for accounts that have no AES keys: string-to-key is the
 * MD4 of the UTF-16LE password (WebCrypto has no MD4, so it is here), encryption is
 * HMAC-MD5 keyed per usage and RC4, the checksum HMAC-MD5 with the "signaturekey". Only
 * reached when a setting allows RC4 (kerberos.allow_rc4): it is weak and deprecated.
 */
import { createHash, createHmac } from "node:crypto";
import { KerberosIntegrityError } from "./errors.ts";

/** MD4 (RFC 1320). */
export function md4(data: Uint8Array): Uint8Array {
  const n = data.length;
  const blocks = ((n + 8) >>> 6) + 1;
  const buf = new Uint8Array(blocks * 64);
  buf.set(data);
  buf[n] = 0x80;
  const dv = new DataView(buf.buffer);
  dv.setUint32(blocks * 64 - 8, (n * 8) >>> 0, true);
  dv.setUint32(blocks * 64 - 4, Math.floor(n / 0x20000000), true);
  let a = 0x67452301, b = 0xefcdab89, c = 0x98badcfe, d = 0x10325476;
  const x = new Uint32Array(16);
  const rotl = (v: number, s: number) => (v << s) | (v >>> (32 - s));
  for (let o = 0; o < buf.length; o += 64) {
    for (let i = 0; i < 16; i++) x[i] = dv.getUint32(o + i * 4, true);
    const [aa, bb, cc, dd] = [a, b, c, d];
    const F = (p: number, q: number, r: number) => (p & q) | (~p & r);
    const G = (p: number, q: number, r: number) => (p & q) | (p & r) | (q & r);
    const H = (p: number, q: number, r: number) => p ^ q ^ r;
    for (const k of [0, 4, 8, 12]) {
      a = rotl((a + F(b, c, d) + x[k]) | 0, 3);
      d = rotl((d + F(a, b, c) + x[k + 1]) | 0, 7);
      c = rotl((c + F(d, a, b) + x[k + 2]) | 0, 11);
      b = rotl((b + F(c, d, a) + x[k + 3]) | 0, 19);
    }
    for (const k of [0, 1, 2, 3]) {
      a = rotl((a + G(b, c, d) + x[k] + 0x5a827999) | 0, 3);
      d = rotl((d + G(a, b, c) + x[k + 4] + 0x5a827999) | 0, 5);
      c = rotl((c + G(d, a, b) + x[k + 8] + 0x5a827999) | 0, 9);
      b = rotl((b + G(c, d, a) + x[k + 12] + 0x5a827999) | 0, 13);
    }
    for (const k of [0, 2, 1, 3]) {
      a = rotl((a + H(b, c, d) + x[k] + 0x6ed9eba1) | 0, 3);
      d = rotl((d + H(a, b, c) + x[k + 8] + 0x6ed9eba1) | 0, 9);
      c = rotl((c + H(d, a, b) + x[k + 4] + 0x6ed9eba1) | 0, 11);
      b = rotl((b + H(c, d, a) + x[k + 12] + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0, b = (b + bb) | 0, c = (c + cc) | 0, d = (d + dd) | 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  [a, b, c, d].forEach((v, i) => ov.setUint32(i * 4, v >>> 0, true));
  return out;
}

/** RC4 keystream XORed over `data` (a new array). */
export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  const s = new Uint8Array(256);
  for (let i = 0; i < 256; i++) s[i] = i;
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i] + key[i % key.length]) & 255;
    [s[i], s[j]] = [s[j], s[i]];
  }
  const out = new Uint8Array(data.length);
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 255;
    j = (j + s[i]) & 255;
    [s[i], s[j]] = [s[j], s[i]];
    out[n] = data[n] ^ s[(s[i] + s[j]) & 255];
  }
  return out;
}

const hmacMd5 = (key: Uint8Array, ...data: Uint8Array[]): Uint8Array => {
  const h = createHmac("md5", key);
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
};

/** RFC 4757 §3: the NT hash, MD4(UTF-16LE(password)). */
export function rc4StringToKey(password: string): Uint8Array {
  const u = new Uint8Array(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const c = password.charCodeAt(i);
    u[i * 2] = c & 255;
    u[i * 2 + 1] = c >>> 8;
  }
  return md4(u);
}

/** RFC 4757 §3 (and MIT's arcfour): the Windows usage numbers for RFC 4120's. */
export function msUsage(usage: number): number {
  if (usage === 3 || usage === 9) return 8;
  if (usage === 23) return 13;
  return usage;
}

const le32 = (n: number) => new Uint8Array([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24]);

/** checksum(16) ‖ RC4(K3, confounder(8) ‖ plain). */
export function rc4Encrypt(
  key: Uint8Array,
  usage: number,
  plain: Uint8Array,
  confounder?: Uint8Array,
): Uint8Array {
  const k1 = hmacMd5(key, le32(msUsage(usage)));
  const data = new Uint8Array(8 + plain.length);
  if (confounder) data.set(confounder.subarray(0, 8));
  else crypto.getRandomValues(data.subarray(0, 8));
  data.set(plain, 8);
  const cksum = hmacMd5(k1, data);
  const out = new Uint8Array(16 + data.length);
  out.set(cksum);
  out.set(rc4(hmacMd5(k1, cksum), data), 16);
  return out;
}

/** The plaintext (confounder stripped), or KerberosIntegrityError. */
export function rc4Decrypt(key: Uint8Array, usage: number, cipher: Uint8Array): Uint8Array {
  if (cipher.length < 24) throw new KerberosIntegrityError("RC4-HMAC ciphertext too short");
  const k1 = hmacMd5(key, le32(msUsage(usage)));
  const cksum = cipher.subarray(0, 16);
  const data = rc4(hmacMd5(k1, cksum), cipher.subarray(16));
  const want = hmacMd5(k1, data);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= want[i] ^ cksum[i];
  if (diff) throw new KerberosIntegrityError("decryption integrity check failed (wrong key?)");
  return data.subarray(8);
}

/** Checksum type -138 (HMAC-MD5, RFC 4757 §4). */
export const CKSUMTYPE_HMAC_MD5 = -138;

export function rc4Checksum(key: Uint8Array, usage: number, data: Uint8Array): Uint8Array {
  const ksign = hmacMd5(key, new TextEncoder().encode("signaturekey\0"));
  const tmp = new Uint8Array(
    createHash("md5").update(le32(msUsage(usage))).update(data).digest(),
  );
  return hmacMd5(ksign, tmp);
}
