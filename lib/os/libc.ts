/**
 * The C library's calls Deno has no API for (setrlimit, setsockopt and friends), loaded once
 * through FFI. Where that cannot be (another OS, no `ffi` permission, no glibc) the answer is
 * the reason, and callers fail soft.
 */

const SYMBOLS = {
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
} as const;

export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | undefined;
let libcError: string | undefined;

/** libc's symbols, or why they are not available here. */
export function openLibc(): Libc | string {
  if (libc) return libc;
  if (libcError) return libcError;
  const opened = openLinuxLibrary(["libc.so.6", "libc.so"], SYMBOLS);
  if (typeof opened === "string") return libcError = opened;
  return libc = opened;
}

/**
 * The first of `names` that loads with `symbols`, or why none can here: another OS, no `ffi`
 * permission, or the loader's message for the last name tried.
 */
export function openLinuxLibrary<S extends Deno.ForeignLibraryInterface>(
  names: string[],
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] | string {
  if (Deno.build.os !== "linux") return `not on Linux (${Deno.build.os})`;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "no ffi permission";
  let error = "";
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols).symbols;
    } catch (err) {
      error = `cannot load ${name}: ${(err as Error).message}`;
    }
  }
  return error;
}
