/**
 * RC4 in JavaScript (node:crypto in Deno lacks rc4), for the handshake's one-shot uses (the
 * KEY_EXCH session key); it streams, keeping (i, j, S) between calls. Per-message sealing
 * runs in WebAssembly (seal_channel.ts), whose tests use this as their reference.
 */
export class Rc4 {
  #s = new Uint8Array(256);
  #i = 0;
  #j = 0;

  constructor(key: Uint8Array) {
    if (key.length === 0) throw new RangeError("RC4 key must not be empty");
    const s = this.#s;
    for (let i = 0; i < 256; i++) s[i] = i;
    let j = 0;
    const n = key.length;
    for (let i = 0; i < 256; i++) {
      const t = s[i];
      j = (j + t + key[i % n]) & 0xff;
      s[i] = s[j];
      s[j] = t;
    }
  }

  /** Transforms `input` into a new array, advancing the keystream. */
  update(input: Uint8Array): Uint8Array {
    const out = new Uint8Array(input.length);
    this.updateInto(input, out);
    return out;
  }

  /**
   * Transforms `input` into out[at..] (may be the same array at the same place), advancing
   * the keystream.
   */
  updateInto(input: Uint8Array, out: Uint8Array, at = 0): void {
    const s = this.#s;
    let i = this.#i;
    let j = this.#j;
    const len = input.length;
    for (let k = 0; k < len; k++) {
      i = (i + 1) & 0xff;
      const si = s[i];
      j = (j + si) & 0xff;
      const sj = s[j];
      s[i] = sj;
      s[j] = si;
      out[at + k] = input[k] ^ s[(si + sj) & 0xff];
    }
    this.#i = i;
    this.#j = j;
  }
}

/** One-shot RC4 (fresh state), e.g. for the KEY_EXCH session key. */
export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new Rc4(key).update(data);
}
