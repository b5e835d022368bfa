/**
 * Refuses HTTP targets on link-local and cloud-metadata addresses, so a channel cannot be
 * turned into a way to read instance credentials from the host NMSlite runs on. The check
 * runs on every address a name resolves to, and the connection is then pinned to a checked
 * address (see http_post.ts), so a DNS answer that changes between check and connect cannot
 * slip through.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

/** A resolved address as node:dns reports it. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Name resolution, injectable so tests can map a name to any address without DNS. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export class TargetRefusedError extends Error {
  override name = "TargetRefusedError";
}

/** Why an address is refused, or null when it may be contacted. */
export function forbiddenReason(address: string): string | null {
  const bytes = addressBytes(address);
  if (!bytes) return null;
  const v4 = bytes.length === 4 ? bytes : embeddedIPv4(bytes);
  if (v4) {
    if (v4[0] === 169 && v4[1] === 254) return "a link-local address (169.254.0.0/16)";
    // Alibaba Cloud's metadata service sits outside 169.254/16.
    if (v4[0] === 100 && v4[1] === 100 && v4[2] === 100 && v4[3] === 200) {
      return "a cloud metadata address";
    }
  }
  if (bytes.length === 16) {
    if (bytes[0] === 0xfe && (bytes[1] & 0xc0) === 0x80) return "a link-local address (fe80::/10)";
    if (sameBytes(bytes, AWS_IMDS_V6)) return "a cloud metadata address (fd00:ec2::254)";
  }
  return null;
}

/**
 * Resolves `hostname` (an IP literal is taken as is) and returns the addresses that may be
 * contacted. Throws TargetRefusedError when any of them is refused, unless allowLinkLocal.
 */
export async function checkTarget(
  hostname: string,
  opts: { allowLinkLocal: boolean; resolve?: Resolver },
): Promise<ResolvedAddress[]> {
  const host = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  const literal = isIP(host);
  const addresses: ResolvedAddress[] = literal
    ? [{ address: host, family: literal === 6 ? 6 : 4 }]
    : await (opts.resolve ?? systemResolver)(host);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  if (!opts.allowLinkLocal) {
    for (const a of addresses) {
      const reason = forbiddenReason(a.address);
      if (reason) {
        throw new TargetRefusedError(
          `refused: ${host} ${literal ? "is" : `resolves to ${a.address},`} ${reason}` +
            " (allow link-local targets in the settings to permit it)",
        );
      }
    }
  }
  return addresses;
}

const AWS_IMDS_V6 = addressBytes("fd00:ec2::254")!;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d), -compatible (::a.b.c.d) or NAT64 (64:ff9b::/96) IPv6 address. */
function embeddedIPv4(b: Uint8Array): Uint8Array | null {
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  const tail = b.subarray(12, 16);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return tail;
  if (zeros(0, 12) && !zeros(12, 14)) return tail;
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) {
    return tail;
  }
  return null;
}

/** 4 or 16 bytes of an IP literal, null when it is not one. */
export function addressBytes(text: string): Uint8Array | null {
  const address = text.replace(/%.*$/, ""); // zone id (fe80::1%eth0)
  const kind = isIP(address);
  if (kind === 4) return new Uint8Array(address.split(".").map(Number));
  if (kind !== 6) return null;
  let groups: string[];
  let head = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  const extra: number[] = [];
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    extra.push((a << 8) | b, (c << 8) | d);
    head = address.slice(0, -v4[1].length);
    if (head.endsWith(":") && !head.endsWith("::")) head = head.slice(0, -1);
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, undefined];
  const parse = (s: string) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  if (right === undefined) {
    groups = [...parse(left), ...extra].map(String);
  } else {
    const l = parse(left);
    const r = [...parse(right), ...extra];
    groups = [...l, ...Array(8 - l.length - r.length).fill(0), ...r].map(String);
  }
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[i * 2] = (Number(g) >> 8) & 0xff;
    out[i * 2 + 1] = Number(g) & 0xff;
  });
  return out;
}
