/**
 * TCP_NODELAY for the sockets `Deno.listenTls` accepts.
 *
 * Deno's HTTP engine writes a response as two TLS records, the head and then the body, each
 * sent at once. Deno sets TCP_NODELAY on the plain TCP connections it accepts but not on TLS
 * ones, and `Deno.TlsConn` has no `setNoDelay`. So on a kept-alive HTTPS connection Nagle's
 * algorithm holds the body back until the client acknowledges the head, and the client delays
 * that acknowledgement (~40 ms on Linux) waiting for more data: every response whose body does
 * not fit in the head's segment took ~44 ms instead of ~1 ms.
 *
 * On Linux a socket returned by accept() inherits TCP_NODELAY from its listening socket, so
 * setting it once on the listener covers every connection. Deno does not expose a listener's
 * file descriptor, so it is found among the process's own descriptors: the listening socket
 * (SO_ACCEPTCONN) bound to the listener's port. The system calls go through FFI into libc,
 * which needs the `ffi` permission (`deno task start` runs with --allow-all; the central role
 * needs no more than --allow-ffi besides what it uses anyway).
 */
import { type Libc, openLibc } from "./libc.ts";

export const SOL_SOCKET = 1;
const SO_TYPE = 3;
export const SO_ACCEPTCONN = 30;
/** descriptors asked one by one when /proc/self/fd cannot be read */
const PROBED_FDS = 4_096;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const AF_INET = 2;
const AF_INET6 = 10;

export function intOption(c: Libc, fd: number, level: number, name: number): number | undefined {
  const value = new Int32Array(1);
  const len = new Uint32Array([4]);
  return c.getsockopt(fd, level, name, value, len) === 0 ? value[0] : undefined;
}

/** The port of a socket's local (or peer) address, for IPv4 and IPv6; undefined otherwise. */
export function port(c: Libc, fd: number, peer = false): number | undefined {
  const addr = new Uint8Array(128);
  const len = new Uint32Array([addr.length]);
  const rc = peer ? c.getpeername(fd, addr, len) : c.getsockname(fd, addr, len);
  if (rc !== 0) return undefined;
  const family = addr[0] | (addr[1] << 8);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  return (addr[2] << 8) | addr[3];
}

/**
 * This process's open descriptors that are sockets: listed from /proc/self/fd, or where that
 * is refused (Deno lets only --allow-all read it, and the central role runs with --deny-write
 * --deny-run) found by asking the lowest PROBED_FDS descriptors for their socket type, which
 * only a socket answers. A listener is opened at start, so its descriptor is a low one.
 */
export function socketFds(c: Libc): number[] {
  const fds: number[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync("/proc/self/fd")];
  } catch {
    for (let fd = 0; fd < PROBED_FDS; fd++) {
      if (intOption(c, fd, SOL_SOCKET, SO_TYPE) !== undefined) fds.push(fd);
    }
    return fds;
  }
  for (const entry of entries) {
    const fd = Number(entry.name);
    if (!Number.isInteger(fd)) continue;
    try {
      if (Deno.readLinkSync(`/proc/self/fd/${fd}`).startsWith("socket:")) fds.push(fd);
    } catch { /* closed meanwhile */ }
  }
  return fds;
}

/**
 * Sets TCP_NODELAY on this process's listening TCP sockets bound to `localPort`, so that every
 * connection it accepts has it. Returns undefined on success, else why it could not.
 */
export function setListenerNoDelay(localPort: number): string | undefined {
  const c = openLibc();
  if (typeof c === "string") return c;
  // Every listening socket of ours on that port (an IPv4 and an IPv6 one may share it).
  let found = 0;
  for (const fd of socketFds(c)) {
    if (intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) !== 1 || port(c, fd) !== localPort) continue;
    const one = new Int32Array([1]);
    if (c.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, one, 4) !== 0) return "setsockopt failed";
    if (!intOption(c, fd, IPPROTO_TCP, TCP_NODELAY)) return "TCP_NODELAY did not stick";
    found++;
  }
  return found ? undefined : `no listening socket on port ${localPort} found`;
}

/**
 * TCP_NODELAY of this process's connected socket with local port `localPort` and peer port
 * `peerPort` (true / false), or undefined when there is no such socket or no way to look.
 * For tests: shows what an accepted connection really has.
 */
export function connectionNoDelay(localPort: number, peerPort: number): boolean | undefined {
  const c = openLibc();
  if (typeof c === "string") return undefined;
  for (const fd of socketFds(c)) {
    if (intOption(c, fd, SOL_SOCKET, SO_ACCEPTCONN) !== 0) continue;
    if (port(c, fd) !== localPort || port(c, fd, true) !== peerPort) continue;
    const v = intOption(c, fd, IPPROTO_TCP, TCP_NODELAY);
    return v === undefined ? undefined : v !== 0;
  }
  return undefined;
}
