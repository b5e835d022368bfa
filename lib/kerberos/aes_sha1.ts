/**
 * AES-CTS and HMAC-SHA1-96 for aes128/aes256-cts-hmac-sha1-96, computed by the WebAssembly
 * build of wasm/aes_sha1.c: the per-message work of a Kerberos context (a sealed Wrap token is
 * one call) and the few block encryptions of key derivation. A poll seals ~5.3 KB in four
 * Wrap tokens and opens ~5.8 KB in four (AES-256): that took ~220 µs of CPU in JavaScript
 * (T-table AES, unrolled SHA-1) and takes ~100 µs here, measured side by side on a busy box
 * (most of it AES's table lookups; SHA-1 is ~1.7 ns a byte).
 * node:crypto's createCipheriv/createHmac cost more still (~40-90 µs a call whatever the
 * size), and WebCrypto is asynchronous.
 *
 * One module instance serves the whole isolate. A usage's keys are expanded once
 * (expandKeys: AES schedules and HMAC pads, 576 bytes) and copied into the instance's memory
 * when a call needs them and they are not already there; the message is copied in,
 * transformed in place, and copied out. Calls are synchronous, so they never interleave; a
 * view returned into the instance's memory is valid only until the next call.
 */
import { decodeBase64 } from "../crypto/base64.ts";
import { AES_SHA1_WASM_BASE64 } from "./wasm/aes_sha1_wasm.ts";

interface AesSha1Exports {
  memory: WebAssembly.Memory;
  setup(): void;
  keys_ptr(): number;
  out_ptr(): number;
  msg_ptr(): number;
  aes_key(len: number): void;
  hmac_key(slot: number, len: number): void;
  cbc_encrypt_msg(len: number): void;
  cts_encrypt(len: number): void;
  cts_decrypt(len: number): void;
  mac(slot: number, len: number): void;
  encrypt(len: number): void;
  decrypt(len: number): number;
  wrap(len: number): void;
}

/** AES schedules, rounds, HMAC states for Ki and Kc (aes_sha1.c's layout). */
const KEYS_LEN = 576;
const BLOCK = 16;
const MAC = 12;
/** The Wrap token's signature part: header, RRC-rotated 28 bytes, encrypted confounder. */
export const WRAP_SIGNATURE_LENGTH = 60;
/** HMAC slots: Ki (encryption integrity) and Kc (checksums). */
export const KI = 0, KC = 1;

/** One usage's expanded keys as the module takes them: make with expandKeys, never modify. */
export type ExpandedKeys = Uint8Array & { readonly __expandedKeys: unique symbol };

class Engine {
  readonly fn: AesSha1Exports;
  readonly keys: number;
  readonly out: number;
  readonly msg: number;
  mem: Uint8Array;
  /** the ExpandedKeys in the instance's memory, or null after a call that replaced them */
  loaded: ExpandedKeys | null = null;
  /** random bytes for confounders, used 16 at a time from `at` */
  readonly #random = new Uint8Array(4096);
  #randomAt = 4096;

  constructor() {
    const module = new WebAssembly.Module(decodeBase64(AES_SHA1_WASM_BASE64));
    this.fn = new WebAssembly.Instance(module, {}).exports as unknown as AesSha1Exports;
    this.fn.setup();
    this.keys = this.fn.keys_ptr();
    this.out = this.fn.out_ptr();
    this.msg = this.fn.msg_ptr();
    this.mem = new Uint8Array(this.fn.memory.buffer);
  }

  /**
   * Makes room for a `len`-byte message and what a call writes past it (CTS padding, MAC):
   * memory only grows, and stays at the largest seen.
   */
  room(len: number): Uint8Array {
    const need = this.msg + len + 32 - this.mem.length;
    if (need > 0) {
      this.fn.memory.grow(Math.ceil(need / 65536));
      this.mem = new Uint8Array(this.fn.memory.buffer);
    }
    return this.mem;
  }

  load(keys: ExpandedKeys): void {
    if (this.loaded === keys) return;
    this.mem.set(keys, this.keys);
    this.loaded = keys;
  }

  /** Expands a raw AES key for a one-off operation (the loaded usage keys are replaced). */
  rawKey(key: Uint8Array): void {
    if (key.length !== 16 && key.length !== 32) {
      throw new RangeError("AES key must be 16 or 32 bytes");
    }
    this.loaded = null;
    this.room(key.length).set(key, this.msg);
    this.fn.aes_key(key.length);
  }

  /** A fresh confounder into mem[at..at+16]. */
  confounder(at: number): void {
    if (this.#randomAt === this.#random.length) {
      crypto.getRandomValues(this.#random);
      this.#randomAt = 0;
    }
    const r = this.#random, m = this.mem;
    let i = this.#randomAt;
    for (let o = at; o < at + BLOCK; o++) m[o] = r[i++];
    this.#randomAt = i;
  }
}

let shared: Engine | undefined;
const engine = () => shared ??= new Engine();

/** Ke (16 or 32 bytes), Ki and Kc (at most 64) expanded: AES schedules and HMAC pads. */
export function expandKeys(ke: Uint8Array, ki: Uint8Array, kc: Uint8Array): ExpandedKeys {
  if (ki.length > 64 || kc.length > 64) throw new RangeError("HMAC keys here are at most 64 bytes");
  const e = engine();
  e.rawKey(ke);
  const mem = e.room(64);
  mem.set(ki, e.msg);
  e.fn.hmac_key(KI, ki.length);
  mem.set(kc, e.msg);
  e.fn.hmac_key(KC, kc.length);
  mem.fill(0, e.msg, e.msg + 64);
  const keys = mem.slice(e.keys, e.keys + KEYS_LEN) as ExpandedKeys;
  e.loaded = keys;
  return keys;
}

/** AES-CBC with IV 0 over `data` (a whole number of blocks) with a raw key: a new array. */
export function cbcEncrypt(key: Uint8Array, data: Uint8Array): Uint8Array {
  if (data.length % BLOCK) throw new RangeError("CBC input must be whole blocks");
  return withRawKey(key, data, (e, n) => e.fn.cbc_encrypt_msg(n));
}

/** AES-CBC-CS3 (RFC 3962 §5) of `plain` (at least one block) with a raw key: a new array. */
export function ctsEncrypt(key: Uint8Array, plain: Uint8Array): Uint8Array {
  if (plain.length < BLOCK) throw new RangeError("CTS input shorter than one block");
  return withRawKey(key, plain, (e, n) => e.fn.cts_encrypt(n));
}

/** The inverse of ctsEncrypt: a new array. */
export function ctsDecrypt(key: Uint8Array, cipher: Uint8Array): Uint8Array {
  if (cipher.length < BLOCK) throw new RangeError("CTS input shorter than one block");
  return withRawKey(key, cipher, (e, n) => e.fn.cts_decrypt(n));
}

/** Loads a raw key, runs `op` over a copy of `input` in the module's memory, returns the result. */
function withRawKey(
  key: Uint8Array,
  input: Uint8Array,
  op: (e: ReturnType<typeof engine>, length: number) => void,
): Uint8Array {
  const e = engine();
  e.rawKey(key);
  const mem = e.room(input.length);
  mem.set(input, e.msg);
  op(e, input.length);
  return mem.slice(e.msg, e.msg + input.length);
}

/** HMAC-SHA1 of the concatenated parts with Ki or Kc, its first `length` bytes: a new array. */
export function hmacSha1(
  keys: ExpandedKeys,
  slot: typeof KI | typeof KC,
  parts: Uint8Array[],
  length = 20,
): Uint8Array {
  const e = engine();
  let n = 0;
  for (const p of parts) n += p.length;
  const mem = e.room(n);
  let o = e.msg;
  for (const p of parts) {
    mem.set(p, o);
    o += p.length;
  }
  e.load(keys);
  e.fn.mac(slot, n);
  return mem.slice(e.out, e.out + Math.min(length, 20));
}

/**
 * RFC 3961 encrypt: AES-CTS(Ke, conf ‖ parts) ‖ HMAC-SHA1-96(Ki, conf ‖ parts), with a random
 * 16-byte confounder (or the one given, for known-answer tests): a new array.
 */
export function encryptParts(
  keys: ExpandedKeys,
  parts: Uint8Array[],
  confounder?: Uint8Array,
): Uint8Array {
  const e = engine();
  let n = BLOCK;
  for (const p of parts) n += p.length;
  const mem = e.room(n + MAC);
  if (confounder) mem.set(confounder.subarray(0, BLOCK), e.msg);
  else e.confounder(e.msg);
  let o = e.msg + BLOCK;
  for (const p of parts) {
    mem.set(p, o);
    o += p.length;
  }
  e.load(keys);
  e.fn.encrypt(n);
  return mem.slice(e.msg, e.msg + n + MAC);
}

/**
 * RFC 3961 decrypt of ciphertext ‖ MAC: confounder ‖ plaintext as a view of the module's
 * memory (valid until the next call here), or null when the HMAC does not verify.
 * `cipher` must be at least 28 bytes (one block and the MAC).
 */
export function decryptView(keys: ExpandedKeys, cipher: Uint8Array): Uint8Array | null {
  const e = engine();
  const n = cipher.length - MAC;
  const mem = e.room(cipher.length);
  mem.set(cipher, e.msg);
  e.load(keys);
  if (!e.fn.decrypt(n)) return null;
  return mem.subarray(e.msg, e.msg + n);
}

/**
 * A sealed RFC 4121 Wrap token of `plain` (EC 0, RRC 28; `header` the 16-byte token header
 * with RRC 0) in MS-WSMV's two pieces: the 60-byte signature part to sig[sigAt..] and the
 * sealed data (plain.length bytes) to out[at..].
 */
export function wrapInto(
  keys: ExpandedKeys,
  plain: Uint8Array,
  header: Uint8Array,
  confounder: Uint8Array | undefined,
  out: Uint8Array,
  at: number,
  sig: Uint8Array,
  sigAt: number,
): void {
  const e = engine();
  const len = plain.length;
  const n = BLOCK + len + 16;
  const mem = e.room(n + MAC);
  const msg = e.msg;
  if (confounder) mem.set(confounder.subarray(0, BLOCK), msg);
  else e.confounder(msg);
  mem.set(plain, msg + BLOCK);
  const h = msg + BLOCK + len;
  for (let i = 0; i < 16; i++) mem[h + i] = header[i];
  e.load(keys);
  e.fn.wrap(n);
  sig.set(mem.subarray(e.out, e.out + WRAP_SIGNATURE_LENGTH), sigAt);
  out.set(mem.subarray(msg + BLOCK, msg + BLOCK + len), at);
}

/**
 * RFC 3961 decrypt of a Wrap token's body, a[aFrom..] ‖ b, rotated right by `rrc` (RFC 4121
 * §4.2.5): un-rotated into the module's memory as ciphertext ‖ MAC and decrypted in place.
 * Returns confounder ‖ plaintext as a view valid until the next call here, or null when the
 * HMAC does not verify. The body must be at least 28 bytes.
 */
export function decryptRotated(
  keys: ExpandedKeys,
  a: Uint8Array,
  aFrom: number,
  b: Uint8Array,
  rrc: number,
): Uint8Array | null {
  const e = engine();
  const h = a.length - aFrom;
  const bodyLen = h + b.length;
  const r = rrc % bodyLen;
  const mem = e.room(bodyLen);
  let o = e.msg;
  // body[from, to) → mem[o..]
  const copy = (from: number, to: number) => {
    if (from < h) {
      const end = Math.min(to, h);
      if (end - from <= 64) {
        for (let i = aFrom + from; i < aFrom + end; i++) mem[o++] = a[i];
      } else {
        mem.set(a.subarray(aFrom + from, aFrom + end), o);
        o += end - from;
      }
      from = end;
    }
    if (from < to) {
      mem.set(from === h && to === bodyLen ? b : b.subarray(from - h, to - h), o);
      o += to - from;
    }
  };
  copy(r, bodyLen);
  copy(0, r);
  const n = bodyLen - MAC;
  e.load(keys);
  if (!e.fn.decrypt(n)) return null;
  return mem.subarray(e.msg, e.msg + n);
}
