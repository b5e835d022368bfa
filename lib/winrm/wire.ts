/**
 * The byte stream under a Connection: a node:net/node:tls socket (HTTPS, see connection.ts)
 * or a Deno TCP connection (plain HTTP). Both deliver the same events to the same handlers.
 *
 * The Deno wire reads only while the connection expects a response (`expect()` after each
 * write): an idle kept-alive connection holds no read buffer and costs no wake-up. A peer that
 * closed an idle connection is therefore noticed when the connection is next used (the read
 * ends at once, no byte received), which the transport treats as a stale keep-alive and retries
 * on a fresh connection, as it does when a close races a request.
 *
 * Keeping a one-byte read pending on every idle connection instead would notice a hang-up at
 * once and refuse bytes sent while idle, but it costs ~1.7 KB of heap per kept-alive host
 * (bench:winrm-memory: 5.8 -> 7.5 KB). Bytes a peer sends while idle are read as the start of
 * the next response: a sealed session (NTLM, Kerberos) fails to open them; over plain-HTTP
 * Basic they would be taken for the answer, which that peer could have given anyway.
 */
import type net from "node:net";
import { Buffer } from "node:buffer";

export interface WireEvents {
  data(chunk: Buffer): void;
  /** the peer ended the stream (EOF) or it failed (err); the wire is closed afterwards */
  end(err: Error | null): void;
  /** the wire is closed, by either side; called once */
  closed(): void;
  /** whether the owner waits for response bytes (the Deno wire reads only then) */
  wanted(): boolean;
}

export interface Wire {
  write(data: Uint8Array): void;
  /** a response is expected: deliver bytes until `data` has seen it (no-op on node sockets) */
  expect(): void;
  ref(): void;
  unref(): void;
  destroy(): void;
}

/** A node:net or node:tls socket, always flowing. */
export function nodeWire(socket: net.Socket, on: WireEvents): Wire {
  socket.setNoDelay(true);
  socket.on("data", (chunk: Buffer) => on.data(chunk));
  socket.on("end", () => on.end(null));
  socket.on("close", () => {
    on.end(null);
    on.closed();
  });
  socket.on("error", (err: Error) => on.end(err));
  return {
    write: (data) => void socket.write(data),
    expect: () => {},
    ref: () => void socket.ref(),
    unref: () => void socket.unref(),
    destroy: () => void socket.destroy(),
  };
}

const READ_SIZE = 64 * 1024;
/** read buffers not in use: a read borrows one and copies out what arrived */
const spare: Uint8Array[] = [];

/** A Deno TCP connection, read on demand. */
export class DenoTcpWire implements Wire {
  #conn: Deno.TcpConn;
  #on: WireEvents;
  #reading = false;
  #closed = false;

  constructor(conn: Deno.TcpConn, on: WireEvents) {
    this.#conn = conn;
    this.#on = on;
    conn.setNoDelay(true);
  }

  write(data: Uint8Array) {
    void this.#writeAll(data);
  }

  async #writeAll(data: Uint8Array) {
    try {
      let at = 0;
      while (at < data.length) at += await this.#conn.write(data.subarray(at));
    } catch (err) {
      this.#failed(err as Error);
    }
  }

  expect() {
    if (!this.#reading && !this.#closed) void this.#readLoop();
  }

  async #readLoop() {
    this.#reading = true;
    try {
      while (!this.#closed && this.#on.wanted()) {
        const buf = spare.pop() ?? new Uint8Array(READ_SIZE);
        let n: number | null;
        try {
          n = await this.#conn.read(buf);
        } finally {
          spare.push(buf);
        }
        if (this.#closed) return;
        if (n === null) {
          this.#on.end(null);
          this.destroy();
          return;
        }
        // the parser keeps views of what it is given, so it gets a copy of exactly what came
        const chunk = Buffer.allocUnsafe(n);
        chunk.set(buf.subarray(0, n));
        this.#on.data(chunk);
      }
    } catch (err) {
      this.#failed(err as Error);
    } finally {
      this.#reading = false;
    }
  }

  #failed(err: Error) {
    if (this.#closed) return; // our own close cancels a pending read or write
    this.#on.end(err);
    this.destroy();
  }

  ref() {
    this.#conn.ref();
  }

  unref() {
    this.#conn.unref();
  }

  destroy() {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the runtime
    }
    this.#on.closed();
  }
}
