/**
 * AES (T-tables) and HMAC-SHA1 in plain JavaScript, for the per-message work of a Kerberos
 * context: node:crypto's createCipheriv/createHmac cost ~40-90 µs a call in Deno whatever
 * the size, which made sealing a poll several times dearer than NTLM's. Key schedules and
 * HMAC pads are computed once per key. Checked by the RFC 3962 vectors and MIT's tokens.
 */

const SBOX = new Uint8Array(256);
const INV = new Uint8Array(256);
const TE = [new Int32Array(256), new Int32Array(256), new Int32Array(256), new Int32Array(256)];
const TD = [new Int32Array(256), new Int32Array(256), new Int32Array(256), new Int32Array(256)];

{
  const xt = (a: number) => ((a << 1) ^ (a & 0x80 ? 0x11b : 0)) & 0xff;
  const mul = (a: number, b: number) => {
    let r = 0;
    for (; b; b >>= 1, a = xt(a)) if (b & 1) r ^= a;
    return r;
  };
  let p = 1, q = 1;
  do {
    p = p ^ xt(p); // × 3
    q ^= q << 1; // ÷ 3
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    const r = (x: number, n: number) => ((x << n) | (x >> (8 - n))) & 0xff;
    SBOX[p] = q ^ r(q, 1) ^ r(q, 2) ^ r(q, 3) ^ r(q, 4) ^ 0x63;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) INV[SBOX[i]] = i;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i];
    const e = (mul(s, 2) << 24) | (s << 16) | (s << 8) | mul(s, 3);
    const v = INV[i];
    const d = (mul(v, 14) << 24) | (mul(v, 9) << 16) | (mul(v, 13) << 8) | mul(v, 11);
    for (let k = 0; k < 4; k++) {
      TE[k][i] = (e >>> (8 * k)) | (e << (32 - 8 * k));
      TD[k][i] = (d >>> (8 * k)) | (d << (32 - 8 * k));
    }
  }
}
const [TE0, TE1, TE2, TE3] = TE;
const [TD0, TD1, TD2, TD3] = TD;

/** An expanded AES-128/256 key: encrypt and decrypt one 16-byte block in place. */
export class Aes {
  /** the encryption and (equivalent inverse cipher) decryption schedules, and rounds */
  readonly ek: Int32Array;
  readonly dk: Int32Array;
  readonly rounds: number;

  constructor(key: Uint8Array) {
    const nk = key.length / 4;
    if (nk !== 4 && nk !== 8) throw new Error("AES key must be 16 or 32 bytes");
    const rounds = this.rounds = nk + 6;
    const n = 4 * (rounds + 1);
    const ek = this.ek = new Int32Array(n);
    for (let i = 0; i < nk; i++) {
      ek[i] = (key[4 * i] << 24) | (key[4 * i + 1] << 16) | (key[4 * i + 2] << 8) | key[4 * i + 3];
    }
    let rcon = 1;
    for (let i = nk; i < n; i++) {
      let t = ek[i - 1];
      if (i % nk === 0) {
        t = (SBOX[(t >>> 16) & 255] << 24) | (SBOX[(t >>> 8) & 255] << 16) |
          (SBOX[t & 255] << 8) | SBOX[t >>> 24];
        t ^= rcon << 24;
        rcon = ((rcon << 1) ^ (rcon & 0x80 ? 0x11b : 0)) & 0xff;
      } else if (nk > 6 && i % nk === 4) {
        t = (SBOX[t >>> 24] << 24) | (SBOX[(t >>> 16) & 255] << 16) |
          (SBOX[(t >>> 8) & 255] << 8) | SBOX[t & 255];
      }
      ek[i] = ek[i - nk] ^ t;
    }
    // The equivalent inverse cipher's schedule: rounds reversed, InvMixColumns inside.
    const dk = this.dk = new Int32Array(n);
    for (let r = 0; r <= rounds; r++) {
      for (let c = 0; c < 4; c++) {
        const w = ek[4 * (rounds - r) + c];
        dk[4 * r + c] = r === 0 || r === rounds ? w : TD0[SBOX[w >>> 24]] ^
          TD1[SBOX[(w >>> 16) & 255]] ^ TD2[SBOX[(w >>> 8) & 255]] ^ TD3[SBOX[w & 255]];
      }
    }
  }

  /** Encrypts b[o..o+16] in place. */
  encryptBlock(b: Uint8Array, o: number): void {
    const k = this.ek;
    let s0 = read(b, o) ^ k[0], s1 = read(b, o + 4) ^ k[1];
    let s2 = read(b, o + 8) ^ k[2], s3 = read(b, o + 12) ^ k[3];
    let i = 4;
    for (let r = 1; r < this.rounds; r++, i += 4) {
      const t0 = TE0[s0 >>> 24] ^ TE1[(s1 >>> 16) & 255] ^ TE2[(s2 >>> 8) & 255] ^ TE3[s3 & 255] ^
        k[i];
      const t1 = TE0[s1 >>> 24] ^ TE1[(s2 >>> 16) & 255] ^ TE2[(s3 >>> 8) & 255] ^ TE3[s0 & 255] ^
        k[i + 1];
      const t2 = TE0[s2 >>> 24] ^ TE1[(s3 >>> 16) & 255] ^ TE2[(s0 >>> 8) & 255] ^ TE3[s1 & 255] ^
        k[i + 2];
      s3 = TE0[s3 >>> 24] ^ TE1[(s0 >>> 16) & 255] ^ TE2[(s1 >>> 8) & 255] ^ TE3[s2 & 255] ^
        k[i + 3];
      s0 = t0;
      s1 = t1;
      s2 = t2;
    }
    write(b, o, final(SBOX, s0, s1, s2, s3) ^ k[i]);
    write(b, o + 4, final(SBOX, s1, s2, s3, s0) ^ k[i + 1]);
    write(b, o + 8, final(SBOX, s2, s3, s0, s1) ^ k[i + 2]);
    write(b, o + 12, final(SBOX, s3, s0, s1, s2) ^ k[i + 3]);
  }

  /** Decrypts b[o..o+16] in place. */
  decryptBlock(b: Uint8Array, o: number): void {
    const k = this.dk;
    let s0 = read(b, o) ^ k[0], s1 = read(b, o + 4) ^ k[1];
    let s2 = read(b, o + 8) ^ k[2], s3 = read(b, o + 12) ^ k[3];
    let i = 4;
    for (let r = 1; r < this.rounds; r++, i += 4) {
      const t0 = TD0[s0 >>> 24] ^ TD1[(s3 >>> 16) & 255] ^ TD2[(s2 >>> 8) & 255] ^ TD3[s1 & 255] ^
        k[i];
      const t1 = TD0[s1 >>> 24] ^ TD1[(s0 >>> 16) & 255] ^ TD2[(s3 >>> 8) & 255] ^ TD3[s2 & 255] ^
        k[i + 1];
      const t2 = TD0[s2 >>> 24] ^ TD1[(s1 >>> 16) & 255] ^ TD2[(s0 >>> 8) & 255] ^ TD3[s3 & 255] ^
        k[i + 2];
      s3 = TD0[s3 >>> 24] ^ TD1[(s2 >>> 16) & 255] ^ TD2[(s1 >>> 8) & 255] ^ TD3[s0 & 255] ^
        k[i + 3];
      s0 = t0;
      s1 = t1;
      s2 = t2;
    }
    write(b, o, final(INV, s0, s3, s2, s1) ^ k[i]);
    write(b, o + 4, final(INV, s1, s0, s3, s2) ^ k[i + 1]);
    write(b, o + 8, final(INV, s2, s1, s0, s3) ^ k[i + 2]);
    write(b, o + 12, final(INV, s3, s2, s1, s0) ^ k[i + 3]);
  }
}

function final(box: Uint8Array, a: number, b: number, c: number, d: number): number {
  return (box[a >>> 24] << 24) | (box[(b >>> 16) & 255] << 16) | (box[(c >>> 8) & 255] << 8) |
    box[d & 255];
}

function read(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

function write(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}

/**
 * CBC with a zero IV over whole blocks, in place: the chaining value stays in four words
 * and each block is read and written once (no per-byte XOR, no call per block).
 */
export function cbcEncryptInPlace(aes: Aes, b: Uint8Array): void {
  const k = aes.ek, rounds = aes.rounds;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  let p0 = 0, p1 = 0, p2 = 0, p3 = 0;
  for (let o = 0; o < b.length; o += 16) {
    let s0 = v.getInt32(o) ^ p0 ^ k[0], s1 = v.getInt32(o + 4) ^ p1 ^ k[1];
    let s2 = v.getInt32(o + 8) ^ p2 ^ k[2], s3 = v.getInt32(o + 12) ^ p3 ^ k[3];
    let i = 4;
    for (let r = 1; r < rounds; r++, i += 4) {
      const t0 = TE0[s0 >>> 24] ^ TE1[(s1 >>> 16) & 255] ^ TE2[(s2 >>> 8) & 255] ^ TE3[s3 & 255] ^
        k[i];
      const t1 = TE0[s1 >>> 24] ^ TE1[(s2 >>> 16) & 255] ^ TE2[(s3 >>> 8) & 255] ^ TE3[s0 & 255] ^
        k[i + 1];
      const t2 = TE0[s2 >>> 24] ^ TE1[(s3 >>> 16) & 255] ^ TE2[(s0 >>> 8) & 255] ^ TE3[s1 & 255] ^
        k[i + 2];
      s3 = TE0[s3 >>> 24] ^ TE1[(s0 >>> 16) & 255] ^ TE2[(s1 >>> 8) & 255] ^ TE3[s2 & 255] ^
        k[i + 3];
      s0 = t0;
      s1 = t1;
      s2 = t2;
    }
    p0 = final(SBOX, s0, s1, s2, s3) ^ k[i];
    p1 = final(SBOX, s1, s2, s3, s0) ^ k[i + 1];
    p2 = final(SBOX, s2, s3, s0, s1) ^ k[i + 2];
    p3 = final(SBOX, s3, s0, s1, s2) ^ k[i + 3];
    v.setInt32(o, p0);
    v.setInt32(o + 4, p1);
    v.setInt32(o + 8, p2);
    v.setInt32(o + 12, p3);
  }
}

/** CBC decryption with a zero IV over whole blocks, in place (last block first). */
export function cbcDecryptInPlace(aes: Aes, b: Uint8Array): void {
  const k = aes.dk, rounds = aes.rounds;
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let o = b.length - 16; o >= 0; o -= 16) {
    let s0 = v.getInt32(o) ^ k[0], s1 = v.getInt32(o + 4) ^ k[1];
    let s2 = v.getInt32(o + 8) ^ k[2], s3 = v.getInt32(o + 12) ^ k[3];
    let i = 4;
    for (let r = 1; r < rounds; r++, i += 4) {
      const t0 = TD0[s0 >>> 24] ^ TD1[(s3 >>> 16) & 255] ^ TD2[(s2 >>> 8) & 255] ^ TD3[s1 & 255] ^
        k[i];
      const t1 = TD0[s1 >>> 24] ^ TD1[(s0 >>> 16) & 255] ^ TD2[(s3 >>> 8) & 255] ^ TD3[s2 & 255] ^
        k[i + 1];
      const t2 = TD0[s2 >>> 24] ^ TD1[(s1 >>> 16) & 255] ^ TD2[(s0 >>> 8) & 255] ^ TD3[s3 & 255] ^
        k[i + 2];
      s3 = TD0[s3 >>> 24] ^ TD1[(s2 >>> 16) & 255] ^ TD2[(s1 >>> 8) & 255] ^ TD3[s0 & 255] ^
        k[i + 3];
      s0 = t0;
      s1 = t1;
      s2 = t2;
    }
    let c0 = 0, c1 = 0, c2 = 0, c3 = 0; // the previous ciphertext block (zero IV first)
    if (o) {
      c0 = v.getInt32(o - 16);
      c1 = v.getInt32(o - 12);
      c2 = v.getInt32(o - 8);
      c3 = v.getInt32(o - 4);
    }
    v.setInt32(o, final(INV, s0, s3, s2, s1) ^ k[i] ^ c0);
    v.setInt32(o + 4, final(INV, s1, s0, s3, s2) ^ k[i + 1] ^ c1);
    v.setInt32(o + 8, final(INV, s2, s1, s0, s3) ^ k[i + 2] ^ c2);
    v.setInt32(o + 12, final(INV, s3, s2, s1, s0) ^ k[i + 3] ^ c3);
  }
}

const W = new Int32Array(80);

/** SHA-1 compression of `n` 64-byte blocks of b from o into h. */
function compress(h: Int32Array, b: Uint8Array, o: number, n: number): void {
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4];
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  for (let blk = 0; blk < n; blk++, o += 64) {
    for (let i = 0; i < 16; i++) W[i] = v.getInt32(o + 4 * i);
    for (let i = 16; i < 80; i++) {
      const x = W[i - 3] ^ W[i - 8] ^ W[i - 14] ^ W[i - 16];
      W[i] = (x << 1) | (x >>> 31);
    }
    let a = h0, bb = h1, c = h2, d = h3, e = h4;
    // four loops of 20 rounds: no per-round choice of function
    for (let i = 0; i < 20; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((bb & c) | (~bb & d)) + 0x5a827999 + e + W[i]) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    for (let i = 20; i < 40; i++) {
      const t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + 0x6ed9eba1 + e + W[i]) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    for (let i = 40; i < 60; i++) {
      const t = (((a << 5) | (a >>> 27)) + ((bb & c) | (bb & d) | (c & d)) + 0x8f1bbcdc + e +
        W[i]) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    for (let i = 60; i < 80; i++) {
      const t = (((a << 5) | (a >>> 27)) + (bb ^ c ^ d) + 0xca62c1d6 + e + W[i]) | 0;
      e = d;
      d = c;
      c = (bb << 30) | (bb >>> 2);
      bb = a;
      a = t;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + bb) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
  h[4] = h4;
}

const IV = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];
const TAIL = new Uint8Array(128);

/** Finishes a hash whose state `h` covers `done` bytes, over the rest `b`. */
function finish(h: Int32Array, done: number, b: Uint8Array): void {
  const full = b.length >> 6;
  compress(h, b, 0, full);
  const rest = b.length - full * 64;
  TAIL.fill(0);
  TAIL.set(b.subarray(full * 64));
  TAIL[rest] = 0x80;
  const blocks = rest < 56 ? 1 : 2;
  const bits = (done + b.length) * 8;
  const end = blocks * 64;
  write(TAIL, end - 8, Math.floor(bits / 2 ** 32));
  write(TAIL, end - 4, bits >>> 0);
  compress(h, TAIL, 0, blocks);
}

/** HMAC-SHA1 with the key's inner and outer pads compressed once. */
export class HmacSha1 {
  readonly #inner = Int32Array.from(IV);
  readonly #outer = Int32Array.from(IV);
  readonly #h = new Int32Array(5);
  readonly #digest = new Uint8Array(20);

  constructor(key: Uint8Array) {
    if (key.length > 64) throw new Error("HMAC keys here are at most 64 bytes");
    const pad = new Uint8Array(64);
    pad.set(key);
    for (let i = 0; i < 64; i++) pad[i] ^= 0x36;
    compress(this.#inner, pad, 0, 1);
    for (let i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
    compress(this.#outer, pad, 0, 1);
  }

  /** The 20-byte MAC of `data` (a view reused by the next call: copy what you keep). */
  mac(data: Uint8Array): Uint8Array {
    const h = this.#h;
    h.set(this.#inner);
    finish(h, 64, data);
    const d = this.#digest;
    for (let i = 0; i < 5; i++) write(d, 4 * i, h[i]);
    h.set(this.#outer);
    finish(h, 64, d);
    for (let i = 0; i < 5; i++) write(d, 4 * i, h[i]);
    return d;
  }
}
