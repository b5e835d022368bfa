/**
 * Discovery targets: a CIDR (`10.0.0.0/24`), a range (`10.0.0.5-10.0.0.20`) or a comma list of
 * addresses, CIDRs and ranges. IPv4 only (WinRM discovery by sweep makes no sense for IPv6).
 * Expansion is lazy so a /16 is never materialised as an array of strings.
 *
 * ```ts
 * const t = parseTarget("192.168.1.0/30"); // t.count === 4
 * [...t.addresses()] // ["192.168.1.0", "192.168.1.1", "192.168.1.2", "192.168.1.3"]
 * ```
 */
export const MAX_TARGET_ADDRESSES = 65_536;

export class TargetError extends Error {
  override name = "TargetError";
}

export interface Target {
  /** Normalised text of the target. */
  text: string;
  count: number;
  addresses(): Generator<string>;
}

interface Span {
  first: number;
  last: number;
}

export function parseTarget(text: string): Target {
  if (text.trim() === "") throw new TargetError("target is empty");
  const parts = text.split(",").map((p) => p.trim());
  if (parts.some((p) => p === "")) {
    throw new TargetError("target has an empty element (two commas, or one at an end)");
  }
  const spans = parts.map(parseSpan);
  spans.sort((a, b) => a.first - b.first);
  const merged: Span[] = [];
  for (const s of spans) {
    const prev = merged[merged.length - 1];
    if (prev && s.first <= prev.last + 1) prev.last = Math.max(prev.last, s.last);
    else merged.push({ ...s });
  }
  const count = merged.reduce((n, s) => n + s.last - s.first + 1, 0);
  if (count > MAX_TARGET_ADDRESSES) {
    throw new TargetError(
      `target covers ${count} addresses; at most ${MAX_TARGET_ADDRESSES} are allowed`,
    );
  }
  return {
    text: parts.join(", "),
    count,
    *addresses() {
      for (const s of merged) {
        for (let n = s.first; n <= s.last; n++) yield formatIpv4(n);
      }
    },
  };
}

/**
 * One element of a list, parsed strictly: exactly one address, one `address/bits` or one
 * `address-address`; anything after a valid prefix (`10.0.0.0/24/3`), a second dash, or a mix
 * of both is refused rather than read as the part that looks right.
 */
function parseSpan(part: string): Span {
  const slashes = part.split("/").length - 1;
  const dashes = part.split("-").length - 1;
  if (slashes > 1 || dashes > 1 || (slashes === 1 && dashes === 1)) {
    throw new TargetError(`"${part}" is not a valid IPv4 address, CIDR or range`);
  }
  if (slashes === 1) {
    const [addr, bitsText] = part.split("/").map((s) => s.trim());
    const bits = Number(bitsText);
    if (!/^\d{1,2}$/.test(bitsText) || bits > 32) {
      throw new TargetError(`"${part}" has an invalid prefix length (0-32)`);
    }
    const base = parseIpv4(addr, part);
    const size = 2 ** (32 - bits);
    if (size > MAX_TARGET_ADDRESSES) {
      throw new TargetError(
        `"${part}" covers ${size} addresses; at most ${MAX_TARGET_ADDRESSES} are allowed`,
      );
    }
    const first = Math.floor(base / size) * size;
    return { first, last: first + size - 1 };
  }
  if (dashes === 1) {
    const [a, b] = part.split("-").map((s) => s.trim());
    const first = parseIpv4(a, part);
    const last = parseIpv4(b, part);
    if (last < first) throw new TargetError(`range "${part}" ends before it starts`);
    return { first, last };
  }
  const n = parseIpv4(part, part);
  return { first: n, last: n };
}

export function parseIpv4(text: string, context = text): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) throw new TargetError(`"${context}" is not a valid IPv4 address, CIDR or range`);
  const octets = m.slice(1).map(Number);
  if (octets.some((o, i) => o > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith("0")))) {
    throw new TargetError(`"${context}" is not a valid IPv4 address, CIDR or range`);
  }
  return ((octets[0] << 24) >>> 0) + (octets[1] << 16) + (octets[2] << 8) + octets[3];
}

export function formatIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}
