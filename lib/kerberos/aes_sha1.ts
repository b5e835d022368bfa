/**
 * AES-CTS and HMAC-SHA1-96 for aes128/aes256-cts-hmac-sha1-96: the per-message work of a
 * Kerberos context (a sealed Wrap token is one call) and the few block encryptions of key
 * derivation. A poll seals ~5.3 KB in four Wrap tokens and opens ~5.8 KB in four (AES-256).
 *
 * Two cores compute it (aes_sha1_core.ts): the system's libcrypto through FFI where it can be
 * loaded (lib/os/libcrypto.ts: Linux, `ffi` permission; AES-NI and SHA instructions, ~3 µs to
 * seal 1.3 KB), else the WebAssembly build of wasm/aes_sha1.c (T-table AES, ~12 µs; it took
 * ~220 µs a poll in JavaScript). node:crypto's createCipheriv/createHmac cost more still
 * (~40-90 µs a call whatever the size), and WebCrypto is asynchronous.
 *
 * One core serves the whole isolate. A usage's keys are expanded once (expandKeys: AES key and
 * HMAC states in the core's layout) and copied into the core's memory when a call needs them
 * and they are not already there; the message is copied in, transformed in place, and copied
 * out. Calls are synchronous, so they never interleave; a view returned into the core's memory
 * is valid only until the next call.
 */
import { decodeBase64 } from "../crypto/base64.ts";
import { openLibcrypto } from "../os/libcrypto.ts";
import {
  type AesSha1Core,
  type AesSha1Operations,
  BLOCK,
  KC,
  KI,
  MAC,
  WRAP_SIGNATURE_LENGTH,
} from "./aes_sha1_core.ts";
import { NativeCore } from "./aes_sha1_native.ts";
import { AES_SHA1_WASM_BASE64 } from "./wasm/aes_sha1_wasm.ts";

export { KC, KI, WRAP_SIGNATURE_LENGTH };

interface AesSha1Exports extends AesSha1Operations {
  memory: WebAssembly.Memory;
  setup(): void;
  keys_ptr(): number;
  out_ptr(): number;
  msg_ptr(): number;
}

/** One usage's expanded keys as the core takes them: make with expandKeys, never modify. */
export type ExpandedKeys = Uint8Array & { readonly __expandedKeys: unique symbol };

/** The WebAssembly build of wasm/aes_sha1.c: its exports, memory grown in 64 KB pages. */
function wasmCore(): AesSha1Core {
  const module = new WebAssembly.Module(decodeBase64(AES_SHA1_WASM_BASE64));
  const fn = new WebAssembly.Instance(module, {}).exports as unknown as AesSha1Exports;
  fn.setup();
  let mem = new Uint8Array(fn.memory.buffer);
  return {
    name: "wasm",
    // AES schedules, rounds, HMAC states for Ki and Kc (aes_sha1.c's layout)
    keysLength: 576,
    keys: fn.keys_ptr(),
    out: fn.out_ptr(),
    msg: fn.msg_ptr(),
    memory(size) {
      if (size > mem.length) {
        fn.memory.grow(Math.ceil((size - mem.length) / 65536));
        mem = new Uint8Array(fn.memory.buffer);
      }
      return mem;
    },
    aes_key: fn.aes_key,
    hmac_key: fn.hmac_key,
    cbc_encrypt_msg: fn.cbc_encrypt_msg,
    cts_encrypt: fn.cts_encrypt,
    cts_decrypt: fn.cts_decrypt,
    mac: fn.mac,
    encrypt: fn.encrypt,
    decrypt: fn.decrypt,
    wrap: fn.wrap,
  };
}

class Engine {
  readonly fn: AesSha1Core;
  readonly keys: number;
  readonly out: number;
  readonly msg: number;
  mem: Uint8Array;
  /** the ExpandedKeys in the core's memory, or null after a call that replaced them */
  loaded: ExpandedKeys | null = null;
  /** random bytes for confounders, used 16 at a time from `at` */
  readonly #random = new Uint8Array(4096);
  #randomAt = 4096;

  constructor(core: AesSha1Core) {
    this.fn = core;
    this.keys = core.keys;
    this.out = core.out;
    this.msg = core.msg;
    this.mem = core.memory(0);
  }

  /**
   * Makes room for a `len`-byte message and what a call writes past it (CTS padding, MAC):
   * memory only grows, and stays at the largest seen.
   */
  room(len: number): Uint8Array {
    const size = this.msg + len + 32;
    if (size > this.mem.length) this.mem = this.fn.memory(size);
    return this.mem;
  }

  load(keys: ExpandedKeys): void {
    if (this.loaded === keys) return;
    if (keys.length !== this.fn.keysLength) {
      throw new Error(`Kerberos keys were expanded for another AES core than ${this.fn.name}`);
    }
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
const engine = () => shared ??= new Engine(defaultCore());

function defaultCore(): AesSha1Core {
  const lib = openLibcrypto();
  return typeof lib === "string" ? wasmCore() : new NativeCore(lib);
}

/** The core in use: "libcrypto" or "wasm". */
export function aesSha1Core(): string {
  return engine().fn.name;
}

/**
 * Switches the isolate to the given core (tests and benches compare them): false when
 * libcrypto cannot be loaded here. Keys expanded before the switch are refused after it.
 */
export function useAesSha1Core(name: "libcrypto" | "wasm"): boolean {
  if (name === "wasm") {
    shared = new Engine(wasmCore());
    return true;
  }
  const lib = openLibcrypto();
  if (typeof lib === "string") return false;
  shared = new Engine(new NativeCore(lib));
  return true;
}

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
  const keys = mem.slice(e.keys, e.keys + e.fn.keysLength) as ExpandedKeys;
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

/** Loads a raw key, runs `op` over a copy of `input` in the core's memory, returns the result. */
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
 * §4.2.5): un-rotated into the core's memory as ciphertext ‖ MAC and decrypted in place.
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
