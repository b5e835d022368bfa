/**
 * RFC 3961/3962 simplified-profile crypto for aes128- and aes256-cts-hmac-sha1-96:
 * n-fold, DK, PBKDF2 string-to-key, AES-CBC with ciphertext stealing (IV 0),
 * HMAC-SHA1-96 integrity and checksums. AES and HMAC-SHA1 are aes_sha1.ts's (the system's
 * libcrypto through FFI, or WebAssembly built from wasm/aes_sha1.c); PBKDF2 is node:crypto's. RC4-HMAC (etype 23, RFC 4757) is
 * dispatched to rc4_hmac.ts; whether it may be used at all is the client's policy
 * (kerberos.allow_rc4).
 */
import { pbkdf2Sync } from "node:crypto";
import {
  cbcEncrypt,
  ctsDecrypt as ctsDecryptRaw,
  ctsEncrypt as ctsEncryptRaw,
  decryptRotated,
  decryptView,
  encryptParts,
  type ExpandedKeys,
  expandKeys,
  hmacSha1,
  KC,
  wrapInto,
} from "./aes_sha1.ts";
import { KerberosError, KerberosIntegrityError, KerberosProtocolError } from "./errors.ts";
import {
  CKSUMTYPE_HMAC_MD5,
  rc4Checksum,
  rc4Decrypt,
  rc4Encrypt,
  rc4StringToKey,
} from "./rc4_hmac.ts";

export const ETYPE = { AES256: 18, AES128: 17, RC4_HMAC: 23 } as const;
/** Checksum types of the two AES etypes (RFC 3962 §7). */
export const CKSUMTYPE = { HMAC_SHA1_96_AES128: 15, HMAC_SHA1_96_AES256: 16 } as const;

/** RFC 4120 §7.5.1 and RFC 4121 §2 key usage numbers. */
export const USAGE = {
  AS_REQ_PA_ENC_TIMESTAMP: 1,
  KDC_REP_TICKET: 2,
  AS_REP_ENC_PART: 3,
  TGS_REQ_AUTH_CKSUM: 6,
  TGS_REQ_AUTH: 7,
  TGS_REP_ENC_PART_SESSION: 8,
  TGS_REP_ENC_PART_SUBKEY: 9,
  AP_REQ_AUTH_CKSUM: 10,
  AP_REQ_AUTH: 11,
  AP_REP_ENC_PART: 12,
  ACCEPTOR_SEAL: 22,
  ACCEPTOR_SIGN: 23,
  INITIATOR_SEAL: 24,
  INITIATOR_SIGN: 25,
} as const;

export interface Key {
  etype: number;
  value: Uint8Array;
}

const BLOCK = 16;
const MAC = 12;

function keyLength(etype: number): number {
  if (etype === ETYPE.AES256) return 32;
  if (etype === ETYPE.AES128) return 16;
  if (etype === ETYPE.RC4_HMAC) return 16;
  throw new KerberosError("etype", `unsupported Kerberos encryption type ${etype}`);
}

export function checksumType(etype: number): number {
  keyLength(etype);
  if (etype === ETYPE.RC4_HMAC) return CKSUMTYPE_HMAC_MD5;
  return etype === ETYPE.AES256 ? CKSUMTYPE.HMAC_SHA1_96_AES256 : CKSUMTYPE.HMAC_SHA1_96_AES128;
}

/** AES always; RC4-HMAC only when the caller's policy allows it. */
export function isSupportedEtype(etype: number, allowRc4 = false): boolean {
  return etype === ETYPE.AES256 || etype === ETYPE.AES128 || (allowRc4 && etype === ETYPE.RC4_HMAC);
}

/** RFC 3961 §5.1 n-fold: replicate with 13-bit rotations, then ones'-complement add. */
export function nfold(input: Uint8Array, outBytes: number): Uint8Array {
  const inBytes = input.length;
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const lcm = (inBytes * outBytes) / gcd(inBytes, outBytes);
  const out = new Uint8Array(outBytes);
  let carry = 0;
  // Straight from the reference implementation (MIT krb5 nfold.c), byte by byte from the end.
  for (let i = lcm - 1; i >= 0; i--) {
    const msbit = ((inBytes << 3) - 1 + (((inBytes << 3) + 13) * Math.floor(i / inBytes)) +
      ((inBytes - (i % inBytes)) << 3)) % (inBytes << 3);
    const byte = ((input[((inBytes - 1) - (msbit >>> 3)) % inBytes] << 8) |
          input[(inBytes - (msbit >>> 3)) % inBytes]) >>> ((msbit & 7) + 1) & 0xff;
    carry += byte + out[i % outBytes];
    out[i % outBytes] = carry & 0xff;
    carry >>>= 8;
  }
  if (carry) {
    for (let i = outBytes - 1; i >= 0; i--) {
      carry += out[i];
      out[i] = carry & 0xff;
      carry >>>= 8;
    }
  }
  return out;
}

/** DR(Key, Constant) of RFC 3961 §5.1, which for AES is also DK (random-to-key is identity). */
export function deriveKey(base: Uint8Array, constant: Uint8Array): Uint8Array {
  // E(c), E(E(c)), …: CBC with IV 0 over c followed by zero blocks chains them
  const blocks = new Uint8Array(Math.ceil(base.length / BLOCK) * BLOCK);
  blocks.set(constant.length === BLOCK ? constant : nfold(constant, BLOCK));
  return cbcEncrypt(base, blocks).subarray(0, base.length);
}

const te = new TextEncoder();

/** RFC 3962 §4: PBKDF2-HMAC-SHA1 then DK(tkey, "kerberos"). */
export function stringToKey(
  etype: number,
  password: string,
  salt: string | Uint8Array,
  iterations = 4096,
): Key {
  const len = keyLength(etype);
  if (etype === ETYPE.RC4_HMAC) return { etype, value: rc4StringToKey(password) };
  const s = typeof salt === "string" ? te.encode(salt) : salt;
  const tkey = new Uint8Array(pbkdf2Sync(te.encode(password), s, iterations, len, "sha1"));
  return { etype, value: deriveKey(tkey, te.encode("kerberos")) };
}

/** The default salt: the realm followed by the principal's name components (RFC 4120 §4). */
export function defaultSalt(realm: string, names: string[]): string {
  return realm + names.join("");
}

/** s2kparams (ETYPE-INFO2): a 4-byte big-endian iteration count. */
export function iterationsOf(params: Uint8Array | null): number {
  if (!params) return 4096;
  if (params.length !== 4) throw new KerberosProtocolError("bad AES s2kparams");
  const n = new DataView(params.buffer, params.byteOffset, 4).getUint32(0);
  if (n === 0 || n > 10_000_000) throw new KerberosProtocolError("AES s2kparams out of range");
  return n;
}

/** AES-CBC-CS3 (RFC 3962 §5): CBC with IV 0, the last two blocks swapped, the last truncated. */
export function ctsEncrypt(key: Uint8Array, plain: Uint8Array): Uint8Array {
  if (plain.length < BLOCK) throw new KerberosProtocolError("CTS input shorter than one block");
  return ctsEncryptRaw(key, plain);
}

export function ctsDecrypt(key: Uint8Array, cipher: Uint8Array): Uint8Array {
  if (cipher.length < BLOCK) throw new KerberosIntegrityError("ciphertext shorter than one block");
  return ctsDecryptRaw(key, cipher);
}

/** Ke, Ki and Kc for one key usage, derived once per (key, usage). */
export interface UsageKeys {
  ke: Uint8Array;
  ki: Uint8Array;
  kc: Uint8Array;
  /** Ke's AES schedules and the HMAC states keyed with Ki and Kc, as aes_sha1.ts takes them */
  expanded: ExpandedKeys;
}

const usageCache = new WeakMap<Uint8Array, Map<number, UsageKeys>>();

export function usageKeys(key: Key, usage: number): UsageKeys {
  keyLength(key.etype);
  if (key.etype === ETYPE.RC4_HMAC) {
    throw new KerberosError(
      "etype",
      "an RC4-HMAC key cannot protect GSS messages here (RFC 4757 wrap tokens are not " +
        "implemented): give the service account AES keys",
    );
  }
  let byUsage = usageCache.get(key.value);
  if (!byUsage) usageCache.set(key.value, byUsage = new Map());
  let k = byUsage.get(usage);
  if (!k) {
    const c = (x: number) =>
      new Uint8Array([usage >>> 24, (usage >>> 16) & 255, (usage >>> 8) & 255, usage & 255, x]);
    const ke = deriveKey(key.value, c(0xaa));
    const ki = deriveKey(key.value, c(0x55));
    const kc = deriveKey(key.value, c(0x99));
    k = { ke, ki, kc, expanded: expandKeys(ke, ki, kc) };
    byUsage.set(usage, k);
  }
  return k;
}

/**
 * encrypt(K, usage, plain) = AES-CTS(Ke, conf ‖ plain) ‖ HMAC-SHA1-96(Ki, conf ‖ plain),
 * with a random 16-byte confounder (or the given one, for known-answer tests).
 */
export function encrypt(
  key: Key,
  usage: number,
  plain: Uint8Array,
  confounder?: Uint8Array,
): Uint8Array {
  if (key.etype === ETYPE.RC4_HMAC) return rc4Encrypt(key.value, usage, plain, confounder);
  return encryptParts(usageKeys(key, usage).expanded, [plain], confounder);
}

/**
 * A sealed RFC 4121 Wrap token of `plain` in MS-WSMV's layout (EC 0, RRC 28): encrypt(K, usage,
 * plain ‖ header) rotated, its 60-byte signature part (`header` with RRC 28, the rotated
 * 28 bytes, the encrypted confounder) to sig[sigAt..] and the sealed data to out[at..].
 * The per-message path of a Kerberos context: one call into aes_sha1.ts's core.
 */
export function sealWrap(
  key: Key,
  usage: number,
  plain: Uint8Array,
  header: Uint8Array,
  out: Uint8Array,
  at: number,
  sig: Uint8Array,
  sigAt: number,
  confounder?: Uint8Array,
): void {
  wrapInto(usageKeys(key, usage).expanded, plain, header, confounder, out, at, sig, sigAt);
}

/**
 * decrypt() of a Wrap token's body a[aFrom..] ‖ b rotated right by `rrc`: confounder ‖
 * plaintext as a view valid until the next Kerberos crypto call (copy or decode it first).
 * Throws KerberosIntegrityError when the HMAC does not verify.
 */
export function openRotated(
  key: Key,
  usage: number,
  a: Uint8Array,
  aFrom: number,
  b: Uint8Array,
  rrc: number,
): Uint8Array {
  if (a.length - aFrom + b.length < BLOCK + MAC) {
    throw new KerberosIntegrityError("ciphertext too short");
  }
  const data = decryptRotated(usageKeys(key, usage).expanded, a, aFrom, b, rrc);
  if (!data) throw new KerberosIntegrityError("decryption integrity check failed (wrong key?)");
  return data;
}

/** The plaintext, or KerberosIntegrityError when the HMAC does not verify. */
export function decrypt(key: Key, usage: number, cipher: Uint8Array): Uint8Array {
  if (key.etype === ETYPE.RC4_HMAC) return rc4Decrypt(key.value, usage, cipher);
  return decryptWithConfounder(key, usage, cipher).subarray(BLOCK);
}

/** confounder ‖ plaintext (known-answer tests re-encrypt a peer's message with its confounder). */
export function decryptWithConfounder(key: Key, usage: number, cipher: Uint8Array): Uint8Array {
  if (cipher.length < BLOCK + MAC) throw new KerberosIntegrityError("ciphertext too short");
  const data = decryptView(usageKeys(key, usage).expanded, cipher);
  if (!data) throw new KerberosIntegrityError("decryption integrity check failed (wrong key?)");
  return data.slice();
}

/** HMAC-SHA1-96 keyed checksum with Kc of the usage (RFC 3961 §5.4). */
export function checksum(key: Key, usage: number, ...data: Uint8Array[]): Uint8Array {
  if (key.etype === ETYPE.RC4_HMAC) {
    let all = data[0] ?? new Uint8Array(0);
    if (data.length > 1) {
      all = new Uint8Array(data.reduce((n, d) => n + d.length, 0));
      let o = 0;
      for (const d of data) {
        all.set(d, o);
        o += d.length;
      }
    }
    return rc4Checksum(key.value, usage, all);
  }
  return hmacSha1(usageKeys(key, usage).expanded, KC, data, MAC);
}

export function randomKey(etype: number): Key {
  return { etype, value: crypto.getRandomValues(new Uint8Array(keyLength(etype))) };
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}
