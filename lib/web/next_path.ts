/**
 * Where to send the browser after login (`?next=`): only a path on this server. A browser's URL
 * parser drops tabs and newlines anywhere, strips leading control characters and spaces, and
 * reads `\` as `/`, so `/\evil.example` or `/\t/evil.example` would leave the site; such input
 * (and anything that does not resolve to this origin) becomes "/".
 */
const BASE = "https://nmslite.invalid";

export function safeNextPath(next: string | null | undefined): string {
  if (!next || next.length > 2048) return "/";
  // Control characters, spaces and backslashes have no business in a path we produced.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x20\x7f\\]/.test(next)) return "/";
  if (!next.startsWith("/") || next.startsWith("//")) return "/";
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return "/";
  }
  if (url.origin !== BASE) return "/";
  const path = url.pathname + url.search + url.hash;
  return path.startsWith("//") ? "/" : path;
}
