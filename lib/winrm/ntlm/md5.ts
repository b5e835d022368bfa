/**
 * MD5 (RFC 1321) and HMAC-MD5 (RFC 2104) in JavaScript, for the NTLM handshake's few short
 * digests: the NTLMv2 proof, the session base key, the MIC and the four sign/seal keys.
 *
 * Why not node:crypto: in Deno each `createHmac("md5")` costs ~21 µs and each `createHash` ~7 µs
 * on short inputs (a Node object, a Rust hasher and their buffers per call), so the handshake's
 * three HMACs and four digests cost ~90 µs on each side. Past the descriptor budget a poller
 * authenticates a new connection for most polls. Here the same HMAC takes ~7 µs and a digest
 * ~3 µs (2026-12-01, Intel Xeon box). The per-message sealing is not done here: it runs in
 * WebAssembly (seal_channel.ts). Tests check both functions against node:crypto on every length.
 */

function rotl(x: number, s: number): number {
  return (x << s) | (x >>> (32 - s));
}

/**
 * One 64-byte block at p[at..] into the state h (four 32-bit words): RFC 1321 §3.4's 64 steps
 * written out, as a loop with table lookups runs several times slower in V8.
 */
function block(h: Int32Array, p: Uint8Array, at: number): void {
  const x0 = p[at + 0] | (p[at + 1] << 8) | (p[at + 2] << 16) | (p[at + 3] << 24);
  const x1 = p[at + 4] | (p[at + 5] << 8) | (p[at + 6] << 16) | (p[at + 7] << 24);
  const x2 = p[at + 8] | (p[at + 9] << 8) | (p[at + 10] << 16) | (p[at + 11] << 24);
  const x3 = p[at + 12] | (p[at + 13] << 8) | (p[at + 14] << 16) | (p[at + 15] << 24);
  const x4 = p[at + 16] | (p[at + 17] << 8) | (p[at + 18] << 16) | (p[at + 19] << 24);
  const x5 = p[at + 20] | (p[at + 21] << 8) | (p[at + 22] << 16) | (p[at + 23] << 24);
  const x6 = p[at + 24] | (p[at + 25] << 8) | (p[at + 26] << 16) | (p[at + 27] << 24);
  const x7 = p[at + 28] | (p[at + 29] << 8) | (p[at + 30] << 16) | (p[at + 31] << 24);
  const x8 = p[at + 32] | (p[at + 33] << 8) | (p[at + 34] << 16) | (p[at + 35] << 24);
  const x9 = p[at + 36] | (p[at + 37] << 8) | (p[at + 38] << 16) | (p[at + 39] << 24);
  const x10 = p[at + 40] | (p[at + 41] << 8) | (p[at + 42] << 16) | (p[at + 43] << 24);
  const x11 = p[at + 44] | (p[at + 45] << 8) | (p[at + 46] << 16) | (p[at + 47] << 24);
  const x12 = p[at + 48] | (p[at + 49] << 8) | (p[at + 50] << 16) | (p[at + 51] << 24);
  const x13 = p[at + 52] | (p[at + 53] << 8) | (p[at + 54] << 16) | (p[at + 55] << 24);
  const x14 = p[at + 56] | (p[at + 57] << 8) | (p[at + 58] << 16) | (p[at + 59] << 24);
  const x15 = p[at + 60] | (p[at + 61] << 8) | (p[at + 62] << 16) | (p[at + 63] << 24);
  let a = h[0], b = h[1], c = h[2], d = h[3];
  a = (b + rotl(a + ((b & c) | (~b & d)) + x0 + -680876936, 7)) | 0;
  d = (a + rotl(d + ((a & b) | (~a & c)) + x1 + -389564586, 12)) | 0;
  c = (d + rotl(c + ((d & a) | (~d & b)) + x2 + 606105819, 17)) | 0;
  b = (c + rotl(b + ((c & d) | (~c & a)) + x3 + -1044525330, 22)) | 0;
  a = (b + rotl(a + ((b & c) | (~b & d)) + x4 + -176418897, 7)) | 0;
  d = (a + rotl(d + ((a & b) | (~a & c)) + x5 + 1200080426, 12)) | 0;
  c = (d + rotl(c + ((d & a) | (~d & b)) + x6 + -1473231341, 17)) | 0;
  b = (c + rotl(b + ((c & d) | (~c & a)) + x7 + -45705983, 22)) | 0;
  a = (b + rotl(a + ((b & c) | (~b & d)) + x8 + 1770035416, 7)) | 0;
  d = (a + rotl(d + ((a & b) | (~a & c)) + x9 + -1958414417, 12)) | 0;
  c = (d + rotl(c + ((d & a) | (~d & b)) + x10 + -42063, 17)) | 0;
  b = (c + rotl(b + ((c & d) | (~c & a)) + x11 + -1990404162, 22)) | 0;
  a = (b + rotl(a + ((b & c) | (~b & d)) + x12 + 1804603682, 7)) | 0;
  d = (a + rotl(d + ((a & b) | (~a & c)) + x13 + -40341101, 12)) | 0;
  c = (d + rotl(c + ((d & a) | (~d & b)) + x14 + -1502002290, 17)) | 0;
  b = (c + rotl(b + ((c & d) | (~c & a)) + x15 + 1236535329, 22)) | 0;
  a = (b + rotl(a + ((b & d) | (c & ~d)) + x1 + -165796510, 5)) | 0;
  d = (a + rotl(d + ((a & c) | (b & ~c)) + x6 + -1069501632, 9)) | 0;
  c = (d + rotl(c + ((d & b) | (a & ~b)) + x11 + 643717713, 14)) | 0;
  b = (c + rotl(b + ((c & a) | (d & ~a)) + x0 + -373897302, 20)) | 0;
  a = (b + rotl(a + ((b & d) | (c & ~d)) + x5 + -701558691, 5)) | 0;
  d = (a + rotl(d + ((a & c) | (b & ~c)) + x10 + 38016083, 9)) | 0;
  c = (d + rotl(c + ((d & b) | (a & ~b)) + x15 + -660478335, 14)) | 0;
  b = (c + rotl(b + ((c & a) | (d & ~a)) + x4 + -405537848, 20)) | 0;
  a = (b + rotl(a + ((b & d) | (c & ~d)) + x9 + 568446438, 5)) | 0;
  d = (a + rotl(d + ((a & c) | (b & ~c)) + x14 + -1019803690, 9)) | 0;
  c = (d + rotl(c + ((d & b) | (a & ~b)) + x3 + -187363961, 14)) | 0;
  b = (c + rotl(b + ((c & a) | (d & ~a)) + x8 + 1163531501, 20)) | 0;
  a = (b + rotl(a + ((b & d) | (c & ~d)) + x13 + -1444681467, 5)) | 0;
  d = (a + rotl(d + ((a & c) | (b & ~c)) + x2 + -51403784, 9)) | 0;
  c = (d + rotl(c + ((d & b) | (a & ~b)) + x7 + 1735328473, 14)) | 0;
  b = (c + rotl(b + ((c & a) | (d & ~a)) + x12 + -1926607734, 20)) | 0;
  a = (b + rotl(a + (b ^ c ^ d) + x5 + -378558, 4)) | 0;
  d = (a + rotl(d + (a ^ b ^ c) + x8 + -2022574463, 11)) | 0;
  c = (d + rotl(c + (d ^ a ^ b) + x11 + 1839030562, 16)) | 0;
  b = (c + rotl(b + (c ^ d ^ a) + x14 + -35309556, 23)) | 0;
  a = (b + rotl(a + (b ^ c ^ d) + x1 + -1530992060, 4)) | 0;
  d = (a + rotl(d + (a ^ b ^ c) + x4 + 1272893353, 11)) | 0;
  c = (d + rotl(c + (d ^ a ^ b) + x7 + -155497632, 16)) | 0;
  b = (c + rotl(b + (c ^ d ^ a) + x10 + -1094730640, 23)) | 0;
  a = (b + rotl(a + (b ^ c ^ d) + x13 + 681279174, 4)) | 0;
  d = (a + rotl(d + (a ^ b ^ c) + x0 + -358537222, 11)) | 0;
  c = (d + rotl(c + (d ^ a ^ b) + x3 + -722521979, 16)) | 0;
  b = (c + rotl(b + (c ^ d ^ a) + x6 + 76029189, 23)) | 0;
  a = (b + rotl(a + (b ^ c ^ d) + x9 + -640364487, 4)) | 0;
  d = (a + rotl(d + (a ^ b ^ c) + x12 + -421815835, 11)) | 0;
  c = (d + rotl(c + (d ^ a ^ b) + x15 + 530742520, 16)) | 0;
  b = (c + rotl(b + (c ^ d ^ a) + x2 + -995338651, 23)) | 0;
  a = (b + rotl(a + (c ^ (b | ~d)) + x0 + -198630844, 6)) | 0;
  d = (a + rotl(d + (b ^ (a | ~c)) + x7 + 1126891415, 10)) | 0;
  c = (d + rotl(c + (a ^ (d | ~b)) + x14 + -1416354905, 15)) | 0;
  b = (c + rotl(b + (d ^ (c | ~a)) + x5 + -57434055, 21)) | 0;
  a = (b + rotl(a + (c ^ (b | ~d)) + x12 + 1700485571, 6)) | 0;
  d = (a + rotl(d + (b ^ (a | ~c)) + x3 + -1894986606, 10)) | 0;
  c = (d + rotl(c + (a ^ (d | ~b)) + x10 + -1051523, 15)) | 0;
  b = (c + rotl(b + (d ^ (c | ~a)) + x1 + -2054922799, 21)) | 0;
  a = (b + rotl(a + (c ^ (b | ~d)) + x8 + 1873313359, 6)) | 0;
  d = (a + rotl(d + (b ^ (a | ~c)) + x15 + -30611744, 10)) | 0;
  c = (d + rotl(c + (a ^ (d | ~b)) + x6 + -1560198380, 15)) | 0;
  b = (c + rotl(b + (d ^ (c | ~a)) + x13 + 1309151649, 21)) | 0;
  a = (b + rotl(a + (c ^ (b | ~d)) + x4 + -145523070, 6)) | 0;
  d = (a + rotl(d + (b ^ (a | ~c)) + x11 + -1120210379, 10)) | 0;
  c = (d + rotl(c + (a ^ (d | ~b)) + x2 + 718787259, 15)) | 0;
  b = (c + rotl(b + (d ^ (c | ~a)) + x9 + -343485551, 21)) | 0;
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
}

/** The running state and partial block of the one digest in progress (calls never interleave). */
const H = new Int32Array(4);
const BUF = new Uint8Array(64);
const IPAD = new Uint8Array(64);
const OPAD = new Uint8Array(64);

/** MD5 of the parts joined, into a new 16-byte array. */
function digest(parts: readonly Uint8Array[], first?: Uint8Array): Uint8Array {
  H[0] = 0x67452301;
  H[1] = 0xefcdab89 | 0;
  H[2] = 0x98badcfe | 0;
  H[3] = 0x10325476;
  let used = 0;
  let length = 0;
  for (let k = first ? -1 : 0; k < parts.length; k++) {
    const data = k < 0 ? first! : parts[k];
    const n = data.length;
    length += n;
    let at = 0;
    if (used) {
      const take = Math.min(64 - used, n);
      for (let i = 0; i < take; i++) BUF[used + i] = data[i];
      used += take;
      at = take;
      if (used < 64) continue;
      block(H, BUF, 0);
      used = 0;
    }
    for (; at + 64 <= n; at += 64) block(H, data, at);
    for (let i = at; i < n; i++) BUF[used++] = data[i];
  }
  BUF[used] = 0x80;
  BUF.fill(0, used + 1);
  if (used >= 56) {
    block(H, BUF, 0);
    BUF.fill(0);
  }
  const bits = length * 8;
  const lo = bits >>> 0;
  const hi = Math.floor(bits / 2 ** 32);
  for (let i = 0; i < 4; i++) {
    BUF[56 + i] = lo >>> (8 * i);
    BUF[60 + i] = hi >>> (8 * i);
  }
  block(H, BUF, 0);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = H[i >> 2] >>> (8 * (i & 3));
  return out;
}

/** MD5 of the parts joined. */
export function md5(...parts: Uint8Array[]): Uint8Array {
  return digest(parts);
}

/** HMAC-MD5 of the parts joined, under `key`. */
export function hmacMd5(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const k = key.length > 64 ? digest([key]) : key;
  for (let i = 0; i < 64; i++) {
    const b = i < k.length ? k[i] : 0;
    IPAD[i] = b ^ 0x36;
    OPAD[i] = b ^ 0x5c;
  }
  const inner = digest(parts, IPAD);
  return digest([inner], OPAD);
}
