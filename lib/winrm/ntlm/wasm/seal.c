/*
 * NTLM session security for one direction of a connection (MS-NLMP §3.4.4 with extended
 * session security and, optionally, KEY_EXCH): RC4 sealing and HMAC-MD5 signatures over a
 * message in linear memory. Built to WebAssembly by `deno task build:wasm`
 * (scripts/build_wasm.ts); lib/winrm/ntlm/seal_wasm.ts embeds the result and drives it.
 *
 * Memory the JavaScript side reads and writes (addresses from the exported *_ptr functions):
 *   state  296 bytes: the channel state being worked on (copied in before a call, out after):
 *          RC4 S-box [0,256), i at 256, j at 257, HMAC inner state at 260, outer at 276
 *   sig    16 bytes: the signature a call writes (seal, mac) or checks (unseal)
 *   msg    the message, transformed in place, from the heap base up (the JavaScript side grows
 *          memory to fit); the 4 bytes before it take SeqNum so that the MAC input
 *          SeqNum ‖ Message is contiguous
 * No libc: freestanding, no allocation, nothing but this file.
 */
typedef unsigned int u32;
typedef unsigned char u8;

#define STATE_LEN 296
static u8 state[STATE_LEN] __attribute__((aligned(16)));
static u8 sigbuf[16] __attribute__((aligned(16)));
extern u8 __heap_base;
#define MSG (&__heap_base + 16)
#define SIG sigbuf
#define RC4_S state

__attribute__((export_name("state_ptr"))) u8 *state_ptr(void) { return state; }
__attribute__((export_name("sig_ptr"))) u8 *sig_ptr(void) { return sigbuf; }
__attribute__((export_name("msg_ptr"))) u8 *msg_ptr(void) { return MSG; }
#define RC4_I 256
#define RC4_J 257
#define HMAC_IN 260
#define HMAC_OUT 276

static inline u32 rotl(u32 x, int s) { return (x << s) | (x >> (32 - s)); }
static inline u32 load32(const u8 *p) {
  u32 v;
  __builtin_memcpy(&v, p, 4); /* wasm is little-endian, like MD5's words */
  return v;
}
static inline void store32(u8 *p, u32 v) { __builtin_memcpy(p, &v, 4); }

#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((x) & (z)) | ((y) & ~(z)))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define STEP(f, a, b, c, d, x, s, t) a = b + rotl(a + f(b, c, d) + (x) + (t), s)

/* RFC 1321 §3.4 on one 64-byte block. */
static void md5_block(u32 st[4], const u8 *p) {
  u32 x[16];
  for (int i = 0; i < 16; i++) x[i] = load32(p + 4 * i);
  u32 a = st[0], b = st[1], c = st[2], d = st[3];
  STEP(F, a, b, c, d, x[0], 7, 0xd76aa478);
  STEP(F, d, a, b, c, x[1], 12, 0xe8c7b756);
  STEP(F, c, d, a, b, x[2], 17, 0x242070db);
  STEP(F, b, c, d, a, x[3], 22, 0xc1bdceee);
  STEP(F, a, b, c, d, x[4], 7, 0xf57c0faf);
  STEP(F, d, a, b, c, x[5], 12, 0x4787c62a);
  STEP(F, c, d, a, b, x[6], 17, 0xa8304613);
  STEP(F, b, c, d, a, x[7], 22, 0xfd469501);
  STEP(F, a, b, c, d, x[8], 7, 0x698098d8);
  STEP(F, d, a, b, c, x[9], 12, 0x8b44f7af);
  STEP(F, c, d, a, b, x[10], 17, 0xffff5bb1);
  STEP(F, b, c, d, a, x[11], 22, 0x895cd7be);
  STEP(F, a, b, c, d, x[12], 7, 0x6b901122);
  STEP(F, d, a, b, c, x[13], 12, 0xfd987193);
  STEP(F, c, d, a, b, x[14], 17, 0xa679438e);
  STEP(F, b, c, d, a, x[15], 22, 0x49b40821);
  STEP(G, a, b, c, d, x[1], 5, 0xf61e2562);
  STEP(G, d, a, b, c, x[6], 9, 0xc040b340);
  STEP(G, c, d, a, b, x[11], 14, 0x265e5a51);
  STEP(G, b, c, d, a, x[0], 20, 0xe9b6c7aa);
  STEP(G, a, b, c, d, x[5], 5, 0xd62f105d);
  STEP(G, d, a, b, c, x[10], 9, 0x02441453);
  STEP(G, c, d, a, b, x[15], 14, 0xd8a1e681);
  STEP(G, b, c, d, a, x[4], 20, 0xe7d3fbc8);
  STEP(G, a, b, c, d, x[9], 5, 0x21e1cde6);
  STEP(G, d, a, b, c, x[14], 9, 0xc33707d6);
  STEP(G, c, d, a, b, x[3], 14, 0xf4d50d87);
  STEP(G, b, c, d, a, x[8], 20, 0x455a14ed);
  STEP(G, a, b, c, d, x[13], 5, 0xa9e3e905);
  STEP(G, d, a, b, c, x[2], 9, 0xfcefa3f8);
  STEP(G, c, d, a, b, x[7], 14, 0x676f02d9);
  STEP(G, b, c, d, a, x[12], 20, 0x8d2a4c8a);
  STEP(H, a, b, c, d, x[5], 4, 0xfffa3942);
  STEP(H, d, a, b, c, x[8], 11, 0x8771f681);
  STEP(H, c, d, a, b, x[11], 16, 0x6d9d6122);
  STEP(H, b, c, d, a, x[14], 23, 0xfde5380c);
  STEP(H, a, b, c, d, x[1], 4, 0xa4beea44);
  STEP(H, d, a, b, c, x[4], 11, 0x4bdecfa9);
  STEP(H, c, d, a, b, x[7], 16, 0xf6bb4b60);
  STEP(H, b, c, d, a, x[10], 23, 0xbebfbc70);
  STEP(H, a, b, c, d, x[13], 4, 0x289b7ec6);
  STEP(H, d, a, b, c, x[0], 11, 0xeaa127fa);
  STEP(H, c, d, a, b, x[3], 16, 0xd4ef3085);
  STEP(H, b, c, d, a, x[6], 23, 0x04881d05);
  STEP(H, a, b, c, d, x[9], 4, 0xd9d4d039);
  STEP(H, d, a, b, c, x[12], 11, 0xe6db99e5);
  STEP(H, c, d, a, b, x[15], 16, 0x1fa27cf8);
  STEP(H, b, c, d, a, x[2], 23, 0xc4ac5665);
  STEP(I, a, b, c, d, x[0], 6, 0xf4292244);
  STEP(I, d, a, b, c, x[7], 10, 0x432aff97);
  STEP(I, c, d, a, b, x[14], 15, 0xab9423a7);
  STEP(I, b, c, d, a, x[5], 21, 0xfc93a039);
  STEP(I, a, b, c, d, x[12], 6, 0x655b59c3);
  STEP(I, d, a, b, c, x[3], 10, 0x8f0ccc92);
  STEP(I, c, d, a, b, x[10], 15, 0xffeff47d);
  STEP(I, b, c, d, a, x[1], 21, 0x85845dd1);
  STEP(I, a, b, c, d, x[8], 6, 0x6fa87e4f);
  STEP(I, d, a, b, c, x[15], 10, 0xfe2ce6e0);
  STEP(I, c, d, a, b, x[6], 15, 0xa3014314);
  STEP(I, b, c, d, a, x[13], 21, 0x4e0811a1);
  STEP(I, a, b, c, d, x[4], 6, 0xf7537e82);
  STEP(I, d, a, b, c, x[11], 10, 0xbd3af235);
  STEP(I, c, d, a, b, x[2], 15, 0x2ad7d2bb);
  STEP(I, b, c, d, a, x[9], 21, 0xeb86d391);
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
}

/*
 * MD5 of `len` bytes at p, continuing from `st` after `prior` bytes already hashed (a whole
 * number of blocks); writes the 16-byte digest to out.
 */
static void md5_finish(const u32 from[4], u32 prior, const u8 *p, u32 len, u8 *out) {
  u32 st[4] = {from[0], from[1], from[2], from[3]};
  u32 n = len;
  while (n >= 64) {
    md5_block(st, p);
    p += 64;
    n -= 64;
  }
  u8 tail[128];
  for (u32 i = 0; i < n; i++) tail[i] = p[i];
  tail[n] = 0x80;
  u32 end = n < 56 ? 64 : 128;
  for (u32 i = n + 1; i < end - 8; i++) tail[i] = 0;
  unsigned long long bits = ((unsigned long long)prior + len) * 8;
  store32(tail + end - 8, (u32)bits);
  store32(tail + end - 4, (u32)(bits >> 32));
  md5_block(st, tail);
  if (end == 128) md5_block(st, tail + 64);
  for (int i = 0; i < 4; i++) store32(out + 4 * i, st[i]);
}

static const u32 MD5_INIT[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};

static void rc4(u8 *p, u32 len) {
  u8 *s = RC4_S;
  u32 i = s[RC4_I], j = s[RC4_J];
  for (u32 k = 0; k < len; k++) {
    i = (i + 1) & 0xff;
    u32 si = s[i];
    j = (j + si) & 0xff;
    u32 sj = s[j];
    s[i] = (u8)sj;
    s[j] = (u8)si;
    p[k] ^= s[(si + sj) & 0xff];
  }
  s[RC4_I] = (u8)i;
  s[RC4_J] = (u8)j;
}

/*
 * Sets up the state: RC4 keyed with the `seal_len` bytes at MSG, HMAC-MD5
 * keyed with the 16 bytes at MSG + 64 (the signing key: never longer than a block).
 */
__attribute__((export_name("init"))) void init(u32 seal_len) {
  u8 *s = RC4_S;
  const u8 *key = MSG;
  for (u32 i = 0; i < 256; i++) s[i] = (u8)i;
  u32 j = 0;
  for (u32 i = 0; i < 256; i++) {
    u8 t = s[i];
    j = (j + t + key[i % seal_len]) & 0xff;
    s[i] = s[j];
    s[j] = t;
  }
  s[RC4_I] = 0;
  s[RC4_J] = 0;
  s[258] = 0;
  s[259] = 0;
  const u8 *sign = MSG + 64;
  u8 pad[64];
  u32 st[4];
  for (int i = 0; i < 64; i++) pad[i] = (u8)((i < 16 ? sign[i] : 0) ^ 0x36);
  for (int i = 0; i < 4; i++) st[i] = MD5_INIT[i];
  md5_block(st, pad);
  for (int i = 0; i < 4; i++) store32(s + HMAC_IN + 4 * i, st[i]);
  for (int i = 0; i < 64; i++) pad[i] ^= 0x36 ^ 0x5c;
  for (int i = 0; i < 4; i++) st[i] = MD5_INIT[i];
  md5_block(st, pad);
  for (int i = 0; i < 4; i++) store32(s + HMAC_OUT + 4 * i, st[i]);
}

/* HMAC_MD5(SigningKey, SeqNum ‖ Message) of the `len`-byte message at MSG into mac. */
static void checksum(u32 len, u32 seq, u8 mac[16]) {
  const u8 *s = state;
  u8 inner[16];
  u32 st[4];
  store32(MSG - 4, seq);
  for (int i = 0; i < 4; i++) st[i] = load32(s + HMAC_IN + 4 * i);
  md5_finish(st, 64, MSG - 4, len + 4, inner);
  for (int i = 0; i < 4; i++) st[i] = load32(s + HMAC_OUT + 4 * i);
  md5_finish(st, 64, inner, 16, mac);
}

/*
 * NTLMSSP_MESSAGE_SIGNATURE into sig: Version 1 ‖ Checksum (the MAC's first 8 bytes, RC4-sealed
 * when KEY_EXCH was negotiated: the keystream continues from the message's) ‖ SeqNum.
 */
static void signature(u8 mac[16], u32 seq, u32 key_exch, u8 *sig) {
  if (key_exch) rc4(mac, 8);
  store32(sig, 1);
  for (int i = 0; i < 8; i++) sig[4 + i] = mac[i];
  store32(sig + 12, seq);
}

/* Signs then seals the message at MSG in place; the signature goes to SIG. */
__attribute__((export_name("seal"))) void seal(u32 len, u32 seq, u32 key_exch) {
  u8 mac[16];
  checksum(len, seq, mac); /* over the plaintext */
  rc4(MSG, len);           /* the keystream runs over the message first, then the checksum */
  signature(mac, seq, key_exch, SIG);
}

/*
 * Unseals the message at MSG in place and checks it against the signature at SIG.
 * Returns 1 when it verifies, 0 when not (compared in constant time).
 */
__attribute__((export_name("unseal"))) u32 unseal(u32 len, u32 seq, u32 key_exch) {
  u8 mac[16], expected[16];
  rc4(MSG, len);
  checksum(len, seq, mac);
  signature(mac, seq, key_exch, expected);
  u32 diff = 0;
  for (int i = 0; i < 16; i++) diff |= (u32)(expected[i] ^ SIG[i]);
  return diff == 0;
}

/* Signature of the message at MSG (left as it is) into SIG: sign and verify without sealing. */
__attribute__((export_name("mac"))) void mac(u32 len, u32 seq, u32 key_exch) {
  u8 m[16];
  checksum(len, seq, m);
  signature(m, seq, key_exch, SIG);
}
