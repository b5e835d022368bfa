/*
 * Kerberos per-message crypto for aes128- and aes256-cts-hmac-sha1-96 (RFC 3961 simplified
 * profile, RFC 3962): AES (T-tables), CBC with ciphertext stealing and IV 0, SHA-1 and
 * HMAC-SHA1-96, and the RFC 4121 Wrap token in MS-WSMV's layout, so that sealing or opening a
 * message is one call. Built to WebAssembly by `deno task build:wasm` (scripts/build_wasm.ts);
 * lib/kerberos/wasm/aes_sha1_wasm.ts embeds the result and lib/kerberos/aes_sha1.ts drives it.
 *
 * Memory the JavaScript side reads and writes (addresses from the exported *_ptr functions):
 *   keys   576 bytes: one usage's expanded keys, copied in before a call (never written by a
 *          per-message call, so the JavaScript side may skip the copy when they are already
 *          there): AES encryption schedule [0,240), decryption schedule [240,480), rounds at
 *          480, HMAC-SHA1 inner and outer states keyed with Ki at 496 and 516, with Kc at 536
 *          and 556 (the state words themselves, native order)
 *   out    64 bytes: a Wrap token's header (wrap) or a MAC (mac)
 *   msg    the message, transformed in place, from the heap base up (the JavaScript side grows
 *          memory to fit: a call writes at most 16 bytes past the bytes it is given)
 * AES state words hold a column little-endian (row 0 in the low byte), as wasm loads them.
 * No libc: freestanding, no allocation, nothing but this file.
 */
typedef unsigned int u32;
typedef unsigned char u8;

#define KEYS_LEN 576
#define EK 0
#define DK 60
#define ROUNDS 120
#define HMAC_KI 124
#define HMAC_KC 134
#define WRAP_RRC 28

static u32 keys[KEYS_LEN / 4] __attribute__((aligned(16)));
static u8 outbuf[64] __attribute__((aligned(16)));
extern u8 __heap_base;
#define MSG (&__heap_base + 16)

__attribute__((export_name("keys_ptr"))) u8 *keys_ptr(void) { return (u8 *)keys; }
__attribute__((export_name("out_ptr"))) u8 *out_ptr(void) { return outbuf; }
__attribute__((export_name("msg_ptr"))) u8 *msg_ptr(void) { return MSG; }

static inline u32 rotl(u32 x, int s) { return (x << s) | (x >> (32 - s)); }
static inline u32 load32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4);
  return v;
}
static inline void store32(u8 *p, u32 v) { __builtin_memcpy(p, &v, 4); }
/* wasm has no byte swap: two rotations and masks (clang's lowering takes more) */
static inline u32 bswap(u32 x) { return (rotl(x, 8) & 0x00ff00ff) | (rotl(x, 24) & 0xff00ff00); }
static inline u32 load_be(const u8 *p) { return bswap(load32(p)); }
static inline void store_be(u8 *p, u32 v) { store32(p, bswap(v)); }

/* ---- AES (FIPS 197) ---- */

/*
 * The S-boxes and round tables (8.5 KB, filled by setup) live at fixed addresses below the
 * linker's data, which starts at 16384 (scripts/build_wasm.ts links with --global-base): a
 * lookup is then one load with the table's address as its constant offset (clang cannot fold a
 * symbol's address into the offset, which costs an add on every lookup, ~10 % of AES).
 */
#define TABLES 4096
#define TE0 ((u32 *)(TABLES))
#define TE1 ((u32 *)(TABLES + 1024))
#define TE2 ((u32 *)(TABLES + 2048))
#define TE3 ((u32 *)(TABLES + 3072))
#define TD0 ((u32 *)(TABLES + 4096))
#define TD1 ((u32 *)(TABLES + 5120))
#define TD2 ((u32 *)(TABLES + 6144))
#define TD3 ((u32 *)(TABLES + 7168))
#define SBOX ((u8 *)(TABLES + 8192))
#define INV ((u8 *)(TABLES + 8448))

static u32 xt(u32 a) { return ((a << 1) ^ (a & 0x80 ? 0x11b : 0)) & 0xff; }
static u32 gmul(u32 a, u32 b) {
  u32 r = 0;
  for (; b; b >>= 1, a = xt(a))
    if (b & 1) r ^= a;
  return r;
}

/* Fills the tables; the JavaScript side calls this once, before anything else. */
__attribute__((export_name("setup"))) void setup(void) {
  if ((unsigned long)keys < TABLES + 8704) __builtin_trap(); /* linked without --global-base */
  u32 p = 1, q = 1;
  do {
    p = p ^ xt(p); /* p × 3 */
    q ^= q << 1;   /* q ÷ 3 */
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    u32 r1 = ((q << 1) | (q >> 7)) & 0xff, r2 = ((q << 2) | (q >> 6)) & 0xff;
    u32 r3 = ((q << 3) | (q >> 5)) & 0xff, r4 = ((q << 4) | (q >> 4)) & 0xff;
    SBOX[p] = (u8)(q ^ r1 ^ r2 ^ r3 ^ r4 ^ 0x63);
  } while (p != 1);
  SBOX[0] = 0x63;
  for (u32 i = 0; i < 256; i++) INV[SBOX[i]] = (u8)i;
  for (u32 i = 0; i < 256; i++) {
    u32 s = SBOX[i], v = INV[i];
    /* MixColumns of (s, 0, 0, 0) and InvMixColumns of (v, 0, 0, 0), row 0 in the low byte */
    u32 e = gmul(s, 2) | (s << 8) | (s << 16) | (gmul(s, 3) << 24);
    u32 d = gmul(v, 14) | (gmul(v, 9) << 8) | (gmul(v, 13) << 16) | (gmul(v, 11) << 24);
    TE0[i] = e;
    TE1[i] = rotl(e, 8);
    TE2[i] = rotl(e, 16);
    TE3[i] = rotl(e, 24);
    TD0[i] = d;
    TD1[i] = rotl(d, 8);
    TD2[i] = rotl(d, 16);
    TD3[i] = rotl(d, 24);
  }
}

static inline u32 subword(u32 w) {
  return SBOX[w & 255] | ((u32)SBOX[(w >> 8) & 255] << 8) | ((u32)SBOX[(w >> 16) & 255] << 16) |
         ((u32)SBOX[w >> 24] << 24);
}

/*
 * Expands the 16- or 32-byte AES key at msg into keys: the encryption schedule and the
 * equivalent inverse cipher's (rounds reversed, InvMixColumns inside).
 */
__attribute__((export_name("aes_key"))) void aes_key(u32 len) {
  u32 nk = len / 4, rounds = nk + 6, n = 4 * (rounds + 1);
  u32 *ek = keys + EK, *dk = keys + DK;
  for (u32 i = 0; i < nk; i++) ek[i] = load32(MSG + 4 * i);
  u32 rcon = 1;
  for (u32 i = nk; i < n; i++) {
    u32 t = ek[i - 1];
    if (i % nk == 0) {
      t = subword(rotl(t, 24)) ^ rcon;
      rcon = xt(rcon);
    } else if (nk > 6 && i % nk == 4) {
      t = subword(t);
    }
    ek[i] = ek[i - nk] ^ t;
  }
  for (u32 r = 0; r <= rounds; r++) {
    for (u32 c = 0; c < 4; c++) {
      u32 w = ek[4 * (rounds - r) + c];
      dk[4 * r + c] = r == 0 || r == rounds
                          ? w
                          : TD0[SBOX[w & 255]] ^ TD1[SBOX[(w >> 8) & 255]] ^
                                TD2[SBOX[(w >> 16) & 255]] ^ TD3[SBOX[w >> 24]];
    }
  }
  keys[ROUNDS] = rounds;
}

#define B0(x) ((x) & 255)
#define B1(x) (((x) >> 8) & 255)
#define B2(x) (((x) >> 16) & 255)
#define B3(x) ((x) >> 24)

/*
 * The rounds are written out: every round key is then a load from a constant address, and
 * AES-128's 10 rounds are the first 9 of AES-256's 13 middle ones, then the last.
 */
#define EROUND(r)                                                                          \
  {                                                                                        \
    const u32 *k = ek + 4 * (r);                                                           \
    u32 t0 = TE0[B0(s0)] ^ TE1[B1(s1)] ^ TE2[B2(s2)] ^ TE3[B3(s3)] ^ k[0];                \
    u32 t1 = TE0[B0(s1)] ^ TE1[B1(s2)] ^ TE2[B2(s3)] ^ TE3[B3(s0)] ^ k[1];                \
    u32 t2 = TE0[B0(s2)] ^ TE1[B1(s3)] ^ TE2[B2(s0)] ^ TE3[B3(s1)] ^ k[2];                \
    u32 t3 = TE0[B0(s3)] ^ TE1[B1(s0)] ^ TE2[B2(s1)] ^ TE3[B3(s2)] ^ k[3];                \
    s0 = t0;                                                                               \
    s1 = t1;                                                                               \
    s2 = t2;                                                                               \
    s3 = t3;                                                                               \
  }
#define EFINAL(a, b, c, d) \
  (SBOX[B0(a)] | (SBOX[B1(b)] << 8) | (SBOX[B2(c)] << 16) | ((u32)SBOX[B3(d)] << 24))

/* CBC encryption with IV 0 of len bytes (whole blocks) at p, in place. */
static void cbc_encrypt(u8 *p, u32 len) {
  const u32 *ek = keys + EK;
  u32 aes256 = keys[ROUNDS] == 14;
  u32 c0 = 0, c1 = 0, c2 = 0, c3 = 0;
  for (u32 o = 0; o < len; o += 16) {
    u32 s0 = load32(p + o) ^ c0 ^ ek[0], s1 = load32(p + o + 4) ^ c1 ^ ek[1];
    u32 s2 = load32(p + o + 8) ^ c2 ^ ek[2], s3 = load32(p + o + 12) ^ c3 ^ ek[3];
    EROUND(1) EROUND(2) EROUND(3) EROUND(4) EROUND(5) EROUND(6) EROUND(7) EROUND(8) EROUND(9)
    const u32 *k = ek + 40;
    if (aes256) {
      EROUND(10) EROUND(11) EROUND(12) EROUND(13)
      k = ek + 56;
    }
    c0 = EFINAL(s0, s1, s2, s3) ^ k[0];
    c1 = EFINAL(s1, s2, s3, s0) ^ k[1];
    c2 = EFINAL(s2, s3, s0, s1) ^ k[2];
    c3 = EFINAL(s3, s0, s1, s2) ^ k[3];
    store32(p + o, c0);
    store32(p + o + 4, c1);
    store32(p + o + 8, c2);
    store32(p + o + 12, c3);
  }
}

/* One decryption round on the state s0..s3 (x = a block's name prefix). */
#define DROUND(x, r)                                                                            \
  {                                                                                             \
    const u32 *k = dk + 4 * (r);                                                                \
    u32 t0 = TD0[B0(x##0)] ^ TD1[B1(x##3)] ^ TD2[B2(x##2)] ^ TD3[B3(x##1)] ^ k[0];            \
    u32 t1 = TD0[B0(x##1)] ^ TD1[B1(x##0)] ^ TD2[B2(x##3)] ^ TD3[B3(x##2)] ^ k[1];            \
    u32 t2 = TD0[B0(x##2)] ^ TD1[B1(x##1)] ^ TD2[B2(x##0)] ^ TD3[B3(x##3)] ^ k[2];            \
    u32 t3 = TD0[B0(x##3)] ^ TD1[B1(x##2)] ^ TD2[B2(x##1)] ^ TD3[B3(x##0)] ^ k[3];            \
    x##0 = t0;                                                                                  \
    x##1 = t1;                                                                                  \
    x##2 = t2;                                                                                  \
    x##3 = t3;                                                                                  \
  }
#define DFINAL(a, b, c, d) \
  (INV[B0(a)] | (INV[B1(b)] << 8) | (INV[B2(c)] << 16) | ((u32)INV[B3(d)] << 24))
#define DLOAD(x, q) \
  u32 x##0 = load32(q) ^ dk[0], x##1 = load32((q) + 4) ^ dk[1], x##2 = load32((q) + 8) ^ dk[2], \
      x##3 = load32((q) + 12) ^ dk[3];
#define DROUNDS(x)                                                                              \
  DROUND(x, 1) DROUND(x, 2) DROUND(x, 3) DROUND(x, 4) DROUND(x, 5) DROUND(x, 6) DROUND(x, 7) \
  DROUND(x, 8) DROUND(x, 9)                                                                    \
  if (aes256) { DROUND(x, 10) DROUND(x, 11) DROUND(x, 12) DROUND(x, 13) }
#define DOUT(x, k, out)                          \
  out[0] = DFINAL(x##0, x##3, x##2, x##1) ^ k[0]; \
  out[1] = DFINAL(x##1, x##0, x##3, x##2) ^ k[1]; \
  out[2] = DFINAL(x##2, x##1, x##0, x##3) ^ k[2]; \
  out[3] = DFINAL(x##3, x##2, x##1, x##0) ^ k[3];

/* Decrypts the block at p into out[4] (without the CBC XOR). */
static void decrypt_block(const u8 *p, u32 out[4]) {
  const u32 *dk = keys + DK;
  u32 aes256 = keys[ROUNDS] == 14;
  DLOAD(s, p)
  DROUNDS(s)
  const u32 *k = dk + 4 * keys[ROUNDS];
  DOUT(s, k, out)
}

#define DROUND2(r) DROUND(x, r) DROUND(y, r)

/*
 * CBC decryption with IV 0 of len bytes (whole blocks) at p, in place, two blocks at a time
 * (they are independent: the two chains overlap).
 */
static void cbc_decrypt(u8 *p, u32 len) {
  const u32 *dk = keys + DK;
  u32 aes256 = keys[ROUNDS] == 14;
  const u32 *kl = dk + 4 * keys[ROUNDS];
  u32 c[4] = {0, 0, 0, 0}, d[4], e[4];
  u32 o = 0;
  for (; o + 32 <= len; o += 32) {
    u8 *q = p + o;
    DLOAD(x, q)
    DLOAD(y, q + 16)
    DROUND2(1) DROUND2(2) DROUND2(3) DROUND2(4) DROUND2(5) DROUND2(6) DROUND2(7) DROUND2(8)
    DROUND2(9)
    if (aes256) { DROUND2(10) DROUND2(11) DROUND2(12) DROUND2(13) }
    DOUT(x, kl, d)
    DOUT(y, kl, e)
    for (int i = 0; i < 4; i++) {
      u32 c1 = load32(q + 4 * i), c2 = load32(q + 16 + 4 * i);
      store32(q + 4 * i, d[i] ^ c[i]);
      store32(q + 16 + 4 * i, e[i] ^ c1);
      c[i] = c2;
    }
  }
  if (o < len) {
    decrypt_block(p + o, d);
    for (int i = 0; i < 4; i++) store32(p + o + 4 * i, d[i] ^ c[i]);
  }
}

/*
 * AES-CBC-CS3 (RFC 3962 §5) of the len bytes at p (len >= 16), in place: CBC over the
 * zero-padded blocks, the last two swapped and the last truncated. Writes up to 15 bytes
 * past len.
 */
static void cts_encrypt_at(u8 *p, u32 len) {
  u32 k = (len + 15) / 16;
  __builtin_memset(p + len, 0, k * 16 - len);
  cbc_encrypt(p, k * 16);
  if (k > 1) {
    u32 m = len - (k - 1) * 16; /* 1..16 bytes in the last block */
    u8 last[16];
    __builtin_memcpy(last, p + (k - 1) * 16, 16);
    __builtin_memcpy(p + (k - 1) * 16, p + (k - 2) * 16, m);
    __builtin_memcpy(p + (k - 2) * 16, last, 16);
  }
}

/* The inverse of cts_encrypt_at, in place; writes up to 15 bytes past len. */
static void cts_decrypt_at(u8 *p, u32 len) {
  u32 k = (len + 15) / 16;
  if (k > 1) {
    /*
     * Block k-1 as sent is E(P_k padded ^ C_(k-1)); decrypted, its bytes past m are C_(k-1)'s
     * stolen tail. Rebuild C_(k-1) in place of block k-1 and move block k-1 as sent after it.
     */
    u32 m = len - (k - 1) * 16;
    u8 *prev = p + (k - 2) * 16, *last = p + (k - 1) * 16;
    u8 sent[16], d[16];
    u32 dw[4];
    __builtin_memcpy(sent, prev, 16);
    decrypt_block(sent, dw);
    for (int i = 0; i < 4; i++) store32(d + 4 * i, dw[i]);
    __builtin_memcpy(prev, last, m);
    __builtin_memcpy(prev + m, d + m, 16 - m);
    __builtin_memcpy(last, sent, 16);
  }
  cbc_decrypt(p, k * 16);
}

__attribute__((export_name("cts_encrypt"))) void cts_encrypt(u32 len) { cts_encrypt_at(MSG, len); }
__attribute__((export_name("cts_decrypt"))) void cts_decrypt(u32 len) { cts_decrypt_at(MSG, len); }

/* CBC with IV 0 over the len bytes (whole blocks) at msg: DK's chained block encryptions. */
__attribute__((export_name("cbc_encrypt_msg"))) void cbc_encrypt_msg(u32 len) {
  cbc_encrypt(MSG, len);
}

/* ---- SHA-1 (FIPS 180-4) and HMAC (RFC 2104) ---- */

/*
 * Rounds written out over a 16-word window of the schedule, the five working variables
 * renamed from round to round instead of moved (so they all stay in locals).
 */
#define W0(i) (w[i] = load_be(p + 4 * (i)))
#define W(i) \
  (w[(i) & 15] = rotl(w[((i) + 13) & 15] ^ w[((i) + 8) & 15] ^ w[((i) + 2) & 15] ^ w[(i) & 15], 1))
#define R0(a, b, c, d, e, i) \
  e += (((c) ^ (d)) & (b)) ^ (d);  \
  e += W0(i) + 0x5a827999 + rotl(a, 5); \
  b = rotl(b, 30);
#define R1(a, b, c, d, e, i) \
  e += (((c) ^ (d)) & (b)) ^ (d);  \
  e += W(i) + 0x5a827999 + rotl(a, 5); \
  b = rotl(b, 30);
#define R2(a, b, c, d, e, i) \
  e += (b) ^ (c) ^ (d);      \
  e += W(i) + 0x6ed9eba1 + rotl(a, 5); \
  b = rotl(b, 30);
#define R3(a, b, c, d, e, i)        \
  e += (((b) | (c)) & (d)) | ((b) & (c)); \
  e += W(i) + 0x8f1bbcdc + rotl(a, 5);    \
  b = rotl(b, 30);
#define R4(a, b, c, d, e, i) \
  e += (b) ^ (c) ^ (d);      \
  e += W(i) + 0xca62c1d6 + rotl(a, 5); \
  b = rotl(b, 30);
#define FIVE(R, i)               \
  R(a, b, c, d, e, (i))         \
  R(e, a, b, c, d, (i) + 1)     \
  R(d, e, a, b, c, (i) + 2)     \
  R(c, d, e, a, b, (i) + 3)     \
  R(b, c, d, e, a, (i) + 4)

static void sha1_blocks(u32 h[5], const u8 *p, u32 nblocks) {
  u32 w[16];
  for (; nblocks; nblocks--, p += 64) {
    u32 a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    FIVE(R0, 0) FIVE(R0, 5) FIVE(R0, 10)
    R0(a, b, c, d, e, 15)
    R1(e, a, b, c, d, 16)
    R1(d, e, a, b, c, 17)
    R1(c, d, e, a, b, 18)
    R1(b, c, d, e, a, 19)
    FIVE(R2, 20) FIVE(R2, 25) FIVE(R2, 30) FIVE(R2, 35)
    FIVE(R3, 40) FIVE(R3, 45) FIVE(R3, 50) FIVE(R3, 55)
    FIVE(R4, 60) FIVE(R4, 65) FIVE(R4, 70) FIVE(R4, 75)
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
  }
}

/*
 * SHA-1 of the len bytes at p, continuing from `from` after `prior` bytes already hashed (a
 * whole number of blocks); the 20-byte digest goes to out.
 */
static void sha1_finish(const u32 from[5], u32 prior, const u8 *p, u32 len, u8 *out) {
  u32 h[5] = {from[0], from[1], from[2], from[3], from[4]};
  u32 full = len / 64;
  sha1_blocks(h, p, full);
  u32 n = len - full * 64;
  u8 tail[128];
  __builtin_memcpy(tail, p + full * 64, n);
  tail[n] = 0x80;
  u32 end = n < 56 ? 64 : 128;
  __builtin_memset(tail + n + 1, 0, end - 8 - (n + 1));
  unsigned long long bits = ((unsigned long long)prior + len) * 8;
  store_be(tail + end - 8, (u32)(bits >> 32));
  store_be(tail + end - 4, (u32)bits);
  sha1_blocks(h, tail, end / 64);
  for (int i = 0; i < 5; i++) store_be(out + 4 * i, h[i]);
}

static const u32 SHA1_INIT[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};

/* HMAC-SHA1 pads for the key at msg (at most 64 bytes) into slot 0 (Ki) or 1 (Kc) of keys. */
__attribute__((export_name("hmac_key"))) void hmac_key(u32 slot, u32 len) {
  u32 *st = keys + (slot ? HMAC_KC : HMAC_KI);
  u8 pad[64];
  for (u32 i = 0; i < 64; i++) pad[i] = (u8)((i < len ? MSG[i] : 0) ^ 0x36);
  for (int i = 0; i < 5; i++) st[i] = SHA1_INIT[i];
  sha1_blocks(st, pad, 1);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  for (int i = 0; i < 5; i++) st[5 + i] = SHA1_INIT[i];
  sha1_blocks(st + 5, pad, 1);
}

/* HMAC-SHA1 of the len bytes at p with the key in slot `st` (inner, outer) into out[20]. */
static void hmac(const u32 *st, const u8 *p, u32 len, u8 out[20]) {
  u8 inner[20];
  sha1_finish(st, 64, p, len, inner);
  sha1_finish(st + 5, 64, inner, 20, out);
}

/* HMAC-SHA1 of the len bytes at msg with Ki (slot 0) or Kc (slot 1) into out. */
__attribute__((export_name("mac"))) void mac(u32 slot, u32 len) {
  hmac(keys + (slot ? HMAC_KC : HMAC_KI), MSG, len, outbuf);
}

/* ---- RFC 3961 §5.3 encrypt and decrypt ---- */

/*
 * encrypt of the len bytes at msg (confounder ‖ plaintext, len >= 16), in place:
 * AES-CTS(Ke, data) ‖ HMAC-SHA1-96(Ki, data), len + 12 bytes.
 */
__attribute__((export_name("encrypt"))) void encrypt(u32 len) {
  u8 h[20];
  hmac(keys + HMAC_KI, MSG, len, h);
  cts_encrypt_at(MSG, len);
  __builtin_memcpy(MSG + len, h, 12);
}

/*
 * decrypt of the len + 12 bytes at msg (ciphertext, then its HMAC; len >= 16), in place.
 * Returns 1 when the HMAC verifies (compared in constant time), else 0.
 */
__attribute__((export_name("decrypt"))) u32 decrypt(u32 len) {
  u8 want[12], h[20];
  __builtin_memcpy(want, MSG + len, 12);
  cts_decrypt_at(MSG, len);
  hmac(keys + HMAC_KI, MSG, len, h);
  u32 diff = 0;
  for (int i = 0; i < 12; i++) diff |= (u32)(h[i] ^ want[i]);
  return diff == 0;
}

/*
 * An RFC 4121 sealed Wrap token (EC 0) as MS-WSMV sends it. At msg: confounder ‖ plaintext ‖
 * token header (RRC 0), len bytes in all. Encrypts them in place, then writes the 60-byte
 * signature part to out: the token header with RRC 28, the last 28 bytes of ciphertext ‖ HMAC
 * (rotated to the front), and the encrypted confounder. The sealed data is msg[16, len - 16).
 */
__attribute__((export_name("wrap"))) void wrap(u32 len) {
  __builtin_memcpy(outbuf, MSG + len - 16, 16);
  outbuf[6] = 0;
  outbuf[7] = WRAP_RRC;
  encrypt(len);
  __builtin_memcpy(outbuf + 16, MSG + len + 12 - WRAP_RRC, WRAP_RRC);
  __builtin_memcpy(outbuf + 16 + WRAP_RRC, MSG, 16);
}
