/**
 * What lib/kerberos/aes_sha1.ts drives: aes_sha1.c's in-place operations over one memory, from
 * the WebAssembly build of that file or from the system's libcrypto (aes_sha1_native.ts). The
 * caller copies keys and message in at the offsets given and reads results back from there.
 */
export interface AesSha1Core extends AesSha1Operations {
  /** "wasm" or "libcrypto" */
  readonly name: string;
  /** length of one usage's expanded keys in this core's layout */
  readonly keysLength: number;
  /** offsets in memory: expanded keys, a 64-byte result area, the message */
  readonly keys: number;
  readonly out: number;
  readonly msg: number;
  /** The memory, at least `size` bytes long: a new array when it had to grow. */
  memory(size: number): Uint8Array;
}

/** aes_sha1.c's exported operations, as both cores implement them. */
export interface AesSha1Operations {
  /** Expands the raw AES key at msg (16 or 32 bytes) into keys. */
  aes_key(len: number): void;
  /** Keys HMAC slot `slot` (KI or KC) with the key at msg (at most 64 bytes). */
  hmac_key(slot: number, len: number): void;
  /** CBC, IV 0, over the whole blocks at msg. */
  cbc_encrypt_msg(len: number): void;
  /** AES-CBC-CS3 at msg, in place; may write 15 bytes past len. */
  cts_encrypt(len: number): void;
  cts_decrypt(len: number): void;
  /** HMAC-SHA1 of msg[0, len) with slot's key into out[0, 20). */
  mac(slot: number, len: number): void;
  /** RFC 3961 encrypt of msg[0, len) in place, the 12-byte MAC after it. */
  encrypt(len: number): void;
  /** RFC 3961 decrypt of msg[0, len) ‖ MAC in place: 1 when the MAC verifies, else 0. */
  decrypt(len: number): number;
  /** A sealed Wrap token of msg[0, len) (confounder ‖ plaintext ‖ header); signature to out. */
  wrap(len: number): void;
}

export const BLOCK = 16;
export const MAC = 12;
/** The Wrap token's signature part: header, RRC-rotated 28 bytes, encrypted confounder. */
export const WRAP_SIGNATURE_LENGTH = 60;
export const WRAP_RRC = 28;
/** HMAC slots: Ki (encryption integrity) and Kc (checksums). */
export const KI = 0, KC = 1;
