/**
 * Ends TCP connections that Deno cannot close: a connection `Deno.listenTls` accepted starts
 * its TLS handshake at once, and until that handshake settles, `close()` leaves the socket
 * open (its descriptor with it) for as long as the peer likes. A peer that never sends its
 * ClientHello held its slot, and 512 of them held every slot.
 *
 * `shutdown(2)` on the socket makes the handshake read end-of-stream, so it fails and Deno
 * closes the socket itself. Deno does not say which descriptor a connection has, so it is
 * found among the process's sockets by local port and peer address. That scan costs a
 * system call or two per open socket, so the sockets asked for are gathered and found in one
 * scan at most every SCAN_MS, however many there are (a flood costs one scan a period, not one
 * each). Where FFI is not available the sockets are left as Deno leaves them.
 */
import { openLibc } from "./libc.ts";
import { intOption, port, SO_ACCEPTCONN, socketFds, SOL_SOCKET } from "./tcp_nodelay.ts";

const SHUT_RDWR = 2;
const AF_INET = 2;
const AF_INET6 = 10;
/** how often at most the process's sockets are scanned */
const SCAN_MS = 250;
/** a socket not found for this long has gone by itself */
const FORGET_MS = 5_000;

/** "ip port" of a socket's peer, IPv4 and IPv6 (an IPv4-mapped IPv6 address as IPv4). */
function peerKey(c: Exclude<ReturnType<typeof openLibc>, string>, fd: number): string | undefined {
  const addr = new Uint8Array(128);
  const len = new Uint32Array([addr.length]);
  if (c.getpeername(fd, addr, len) !== 0) return undefined;
  const family = addr[0] | (addr[1] << 8);
  const p = (addr[2] << 8) | addr[3];
  if (family === AF_INET) return `${addr[4]}.${addr[5]}.${addr[6]}.${addr[7]} ${p}`;
  if (family !== AF_INET6) return undefined;
  const ip = addr.subarray(8, 24);
  if (ip.subarray(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff) {
    return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]} ${p}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip[i] << 8) | ip[i + 1]).toString(16));
  return `${groups.join(":")} ${p}`;
}

/** IPv6 text as peerKey writes it (no :: shortening), IPv4 as it is. */
function normalize(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  if (mapped) return mapped[1];
  const [head, tail] = hostname.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const zeros = tail === undefined ? [] : Array(8 - h.length - t.length).fill("0");
  return [...h, ...zeros, ...t].map((g) => parseInt(g, 16).toString(16)).join(":");
}

export class SocketShutdown {
  readonly #localPort: number;
  readonly #wanted = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastScan = 0;
  /** sockets shut down so far */
  done = 0;
  /** why it cannot work here, if it cannot */
  readonly unavailable: string | undefined;

  constructor(localPort: number) {
    this.#localPort = localPort;
    const c = openLibc();
    this.unavailable = typeof c === "string" ? c : undefined;
  }

  /** Shuts down, within about SCAN_MS, our accepted socket whose peer is `peer`. */
  request(peer: Deno.NetAddr): void {
    if (this.unavailable) return;
    this.#wanted.set(`${normalize(peer.hostname)} ${peer.port}`, Date.now());
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastScan + SCAN_MS - Date.now());
    this.#timer = setTimeout(() => this.#scan(), wait);
  }

  /** Looks for the sockets asked for now, not at the next period. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#scan();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wanted.clear();
  }

  #scan(): void {
    this.#timer = undefined;
    this.#lastScan = Date.now();
    const c = openLibc();
    if (typeof c === "string" || this.#wanted.size === 0) return;
    for (const fd of socketFds(c)) {
      if (this.#wanted.size === 0) break;
      if (port(c, fd) !== this.#localPort) continue;
      if (intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0) continue;
      const key = peerKey(c, fd);
      if (key === undefined || !this.#wanted.has(key)) continue;
      this.#wanted.delete(key);
      if (c.shutdown(fd, SHUT_RDWR) === 0) this.done++;
    }
    const old = Date.now() - FORGET_MS;
    for (const [key, at] of this.#wanted) if (at < old) this.#wanted.delete(key);
    if (this.#wanted.size) this.#timer = setTimeout(() => this.#scan(), SCAN_MS);
  }
}
