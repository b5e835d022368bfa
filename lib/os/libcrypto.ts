/**
 * The system's OpenSSL libcrypto, loaded once through FFI, for the per-message AES and SHA-1
 * work of a Kerberos context: it reaches the CPU's AES-NI and SHA instructions, which nothing
 * synchronous in Deno does (node:crypto's ciphers and HMACs cost tens of µs a call here,
 * WebCrypto is asynchronous). Only calls that exist with the same signatures in OpenSSL 1.1 and
 * 3 are bound; SHA1_* are the plain digest functions (no provider lookup), the SHA_CTX they
 * take is a public 96-byte struct that callers keep in their own memory.
 *
 * Where it cannot be loaded (another OS, no `ffi` permission, no libcrypto, or
 * NMSLITE_NATIVE_CRYPTO=0) the answer is the reason, and callers use their WebAssembly code.
 */

import { openLinuxLibrary } from "./libc.ts";

const SYMBOLS = {
  EVP_CIPHER_CTX_new: { parameters: [], result: "pointer" },
  EVP_aes_128_cbc: { parameters: [], result: "pointer" },
  EVP_aes_256_cbc: { parameters: [], result: "pointer" },
  EVP_aes_128_ecb: { parameters: [], result: "pointer" },
  EVP_aes_256_ecb: { parameters: [], result: "pointer" },
  EVP_CipherInit_ex: {
    parameters: ["pointer", "pointer", "pointer", "buffer", "buffer", "i32"],
    result: "i32",
  },
  EVP_CIPHER_CTX_set_padding: { parameters: ["pointer", "i32"], result: "i32" },
  EVP_CipherUpdate: { parameters: ["pointer", "buffer", "buffer", "buffer", "i32"], result: "i32" },
  SHA1_Init: { parameters: ["buffer"], result: "i32" },
  SHA1_Update: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  SHA1_Final: { parameters: ["buffer", "buffer"], result: "i32" },
} as const;

export type Libcrypto = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** sizeof(SHA_CTX): h0..h4, Nl, Nh, data[16], num: 24 32-bit words. */
export const SHA_CTX_LENGTH = 96;

let lib: Libcrypto | undefined;
let libError: string | undefined;

/** libcrypto's symbols, or why they are not available here. */
export function openLibcrypto(): Libcrypto | string {
  if (lib) return lib;
  if (libError) return libError;
  const setting = Deno.permissions.querySync({ name: "env", variable: "NMSLITE_NATIVE_CRYPTO" })
      .state === "granted"
    ? Deno.env.get("NMSLITE_NATIVE_CRYPTO")
    : undefined;
  if (setting === "0" || setting === "false") return libError = "NMSLITE_NATIVE_CRYPTO=0";
  const opened = openLinuxLibrary(["libcrypto.so.3", "libcrypto.so.1.1"], SYMBOLS);
  if (typeof opened === "string") return libError = opened;
  return lib = opened;
}
