/**
 * A request body over the limit is answered 413 as soon as its Content-Length (or its chunks)
 * say so, and the server ends the connection after it instead of keeping it open with the rest
 * of the body unread: a client that writes its whole body before reading the answer (as
 * Python's http.client does) gets the 413 and an end, not a hang. Real listener, raw socket.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";

const enc = new TextEncoder();

/**
 * Sends `head` and then the whole body, `pieces` pieces of it, as a client that writes its
 * request before it reads the answer does, while reading what comes back; stops writing once
 * the server has ended the connection.
 */
async function oversized(
  port: number,
  head: string,
  piece: (i: number) => Uint8Array,
  pieces: number,
) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let answer = "";
  let ended = false;
  const reader = (async () => {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        answer += new TextDecoder().decode(buf.subarray(0, n));
      }
      ended = true;
    } catch {
      ended = true; // reset by the peer: closed too
    }
  })();
  try {
    await conn.write(enc.encode(head));
    for (let i = 0; i < pieces && !ended; i++) {
      const bytes = piece(i);
      for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
    }
  } catch {
    // the server closed while we wrote: what we want
  }
  // The server must end the connection by itself; a 10 s guard fails the test instead of hanging.
  let timedOut = false;
  const guard = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, 10_000);
  await reader;
  clearTimeout(guard);
  try {
    conn.close();
  } catch { /* closed */ }
  return { answer, timedOut };
}

Deno.test({
  name: "a body over the limit gets 413 and the connection closes, declared or chunked",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const s = await startTestServer("pglite", { NMSLITE_BODY_LIMIT_BYTES: "65536" });
    const port = Number(new URL(s.url).port);
    try {
      const MiB = new Uint8Array(1024 * 1024).fill(0x61);
      const declared = await oversized(
        port,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          `Content-Length: ${20 * MiB.length}\r\n\r\n`,
        () => MiB,
        20,
      );
      assertMatch(declared.answer, /^HTTP\/1\.1 413 /);
      assertMatch(declared.answer, /connection: close/i);
      assert(declared.answer.includes("PAYLOAD_TOO_LARGE"));
      assertEquals(declared.timedOut, false, "the server left the connection open");
      const chunked = await oversized(
        port,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
          "Transfer-Encoding: chunked\r\n\r\n",
        (i) =>
          enc.encode(
            `${MiB.length.toString(16)}\r\n${"a".repeat(MiB.length)}\r\n${
              i === 19 ? "0\r\n\r\n" : ""
            }`,
          ),
        20,
      );
      assertMatch(chunked.answer, /^HTTP\/1\.1 413 /);
      assertEquals(chunked.timedOut, false, "the server left the connection open");
      // the server still serves
      assertEquals((await s.call("GET", "/health")).status < 500, true);
    } finally {
      await s.close();
    }
  },
});
