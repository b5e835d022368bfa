/**
 * One direction of NTLM session security (sealing key, signing key, RC4 stream, sequence
 * number), computed by the WebAssembly build of wasm/seal.c. Sealing a poll's messages is
 * RC4 plus HMAC-MD5 over every byte sent and received (~11.7 KB a poll); that took ~55 µs of
 * CPU in JavaScript (unrolled MD5, in-place RC4) and takes ~34 µs in WebAssembly.
 *
 * One module instance serves the whole isolate: a channel keeps its 296-byte state here and
 * copies it into the instance's memory for each call (calls are synchronous, so they never
 * interleave), and the message is copied in, transformed in place, and copied out.
 */
import { decodeBase64 } from "../../crypto/base64.ts";
import { SEAL_WASM_BASE64 } from "./wasm/seal_wasm.ts";
import { NtlmIntegrityError } from "./errors.ts";

interface SealExports {
  memory: WebAssembly.Memory;
  state_ptr(): number;
  sig_ptr(): number;
  msg_ptr(): number;
  init(sealKeyLength: number): void;
  seal(len: number, seq: number, keyExch: number): void;
  unseal(len: number, seq: number, keyExch: number): number;
  mac(len: number, seq: number, keyExch: number): void;
}

/** RC4 S-box, i, j, padding, HMAC inner and outer MD5 states (seal.c's layout). */
const STATE_LEN = 296;
export const SIGNATURE_LENGTH = 16;

class Engine {
  readonly fn: SealExports;
  readonly state: number;
  readonly sig: number;
  readonly msg: number;
  mem: Uint8Array;

  constructor() {
    const module = new WebAssembly.Module(decodeBase64(SEAL_WASM_BASE64));
    this.fn = new WebAssembly.Instance(module, {}).exports as unknown as SealExports;
    this.state = this.fn.state_ptr();
    this.sig = this.fn.sig_ptr();
    this.msg = this.fn.msg_ptr();
    this.mem = new Uint8Array(this.fn.memory.buffer);
  }

  /** Makes room for a `len`-byte message (memory only grows: it stays at the largest seen). */
  room(len: number): Uint8Array {
    const need = this.msg + len - this.mem.length;
    if (need > 0) {
      this.fn.memory.grow(Math.ceil(need / 65536));
      this.mem = new Uint8Array(this.fn.memory.buffer);
    }
    return this.mem;
  }
}

let shared: Engine | undefined;
const engine = () => shared ??= new Engine();

export class SealChannel {
  #state = new Uint8Array(STATE_LEN);
  #keyExch: number;
  /** SeqNum of the next message */
  seq = 0;

  constructor(signKey: Uint8Array, sealKey: Uint8Array, keyExch: boolean) {
    if (signKey.length !== 16) throw new RangeError("NTLM signing key must be 16 bytes");
    if (sealKey.length === 0 || sealKey.length > 64) {
      throw new RangeError("NTLM sealing key must be 1 to 64 bytes");
    }
    this.#keyExch = keyExch ? 1 : 0;
    const e = engine();
    const mem = e.room(80);
    mem.set(sealKey, e.msg);
    mem.set(signKey, e.msg + 64);
    e.fn.init(sealKey.length);
    this.#save(e);
    mem.fill(0, e.msg, e.msg + 80);
  }

  /** Seals `plain` into out[at..] and writes its signature to sig[sigAt..sigAt+16]. */
  seal(plain: Uint8Array, out: Uint8Array, at: number, sig: Uint8Array, sigAt: number): void {
    const e = this.#load(plain);
    e.fn.seal(plain.length, this.seq, this.#keyExch);
    out.set(e.mem.subarray(e.msg, e.msg + plain.length), at);
    sig.set(e.mem.subarray(e.sig, e.sig + SIGNATURE_LENGTH), sigAt);
    this.#done(e);
  }

  /**
   * Unseals `sealed` and hands the plaintext to `use` (a view valid only during the call:
   * copy or decode it there); returns what `use` returns. Throws NtlmIntegrityError when the
   * signature does not verify (the stream has moved on either way).
   */
  unseal<T>(sealed: Uint8Array, signature: Uint8Array, use: (plain: Uint8Array) => T): T {
    const e = this.#load(sealed);
    e.mem.set(signature, e.sig);
    const ok = e.fn.unseal(sealed.length, this.seq, this.#keyExch);
    this.#done(e);
    if (!ok) throw new NtlmIntegrityError("NTLM message signature does not verify");
    return use(e.mem.subarray(e.msg, e.msg + sealed.length));
  }

  /** Signature of `msg` (not sealed) into sig[at..at+16]. */
  sign(msg: Uint8Array, sig: Uint8Array, at: number): void {
    const e = this.#load(msg);
    e.fn.mac(msg.length, this.seq, this.#keyExch);
    sig.set(e.mem.subarray(e.sig, e.sig + SIGNATURE_LENGTH), at);
    this.#done(e);
  }

  #load(msg: Uint8Array): Engine {
    const e = engine();
    const mem = e.room(msg.length);
    mem.set(this.#state, e.state);
    mem.set(msg, e.msg);
    return e;
  }

  #done(e: Engine): void {
    this.#save(e);
    this.seq = (this.seq + 1) >>> 0;
  }

  #save(e: Engine): void {
    this.#state.set(e.mem.subarray(e.state, e.state + STATE_LEN));
  }
}
