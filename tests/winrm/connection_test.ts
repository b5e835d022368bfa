/**
 * A plain-HTTP Connection (Deno TCP, read on demand) against raw loopback servers: responses
 * larger than a read, pipelined responses in one segment, a peer that hangs up mid-response,
 * a refused connect, and idle connections that keep no read pending.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { Connection } from "../../lib/winrm/connection.ts";
import { ConnectionError, ProtocolError } from "../../lib/winrm/errors.ts";

const HOST = "127.0.0.1";

function open(port: number) {
  return Connection.open({
    host: HOST,
    port,
    https: false,
    tls: { verify: "insecure" },
    connectTimeoutMs: 5_000,
  });
}

/** A server that answers each connection with `respond(requestBytes)` once it has `want` bytes. */
function server(want: number, respond: (conn: Deno.TcpConn) => Promise<void>) {
  const listener = Deno.listen({ hostname: HOST, port: 0 });
  const conns: Deno.TcpConn[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      (async () => {
        const buf = new Uint8Array(64 * 1024);
        let got = 0;
        while (got < want) {
          const n = await conn.read(buf);
          if (n === null) return;
          got += n;
        }
        await respond(conn);
      })().catch(() => {});
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await done;
    },
  };
}

const enc = new TextEncoder();
const response = (body: string) =>
  enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);

async function writeAll(conn: Deno.TcpConn, data: Uint8Array) {
  for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
}

Deno.test("plain HTTP: pipelined responses larger than a read arrive whole and in order", async () => {
  const bodies = ["a".repeat(150_000), "b".repeat(7), "c".repeat(90_000)];
  const all = new Uint8Array(bodies.reduce((n, b) => n + response(b).length, 0));
  let at = 0;
  for (const b of bodies) {
    all.set(response(b), at);
    at += response(b).length;
  }
  const request = enc.encode("POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  const srv = server(request.length * 3, (conn) => writeAll(conn, all));
  try {
    const conn = await open(srv.port);
    const three = new Uint8Array(request.length * 3);
    for (let i = 0; i < 3; i++) three.set(request, i * request.length);
    const res = await conn.pipeline(three, 3, 5_000);
    assertEquals(res.map((r) => new TextDecoder().decode(r.body)), bodies);
    assert(conn.alive, "a keep-alive connection stays open after a complete exchange");
    conn.close();
  } finally {
    await srv.close();
  }
});

Deno.test("plain HTTP: a peer hanging up mid-response fails the request, naming the endpoint", async () => {
  const request = enc.encode("POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  const srv = server(request.length, async (conn) => {
    await writeAll(conn, enc.encode("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"));
    conn.close();
  });
  try {
    const conn = await open(srv.port);
    await assertRejects(
      () => conn.request(request, 5_000),
      ProtocolError,
      `http://${HOST}:${srv.port}`,
    );
    assert(!conn.alive);
  } finally {
    await srv.close();
  }
});

Deno.test("plain HTTP: a refused connect is a ConnectionError of class refused", async () => {
  const l = Deno.listen({ hostname: HOST, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const err = await assertRejects(() => open(port), ConnectionError) as ConnectionError;
  assertEquals(err.problem, "refused");
  assertEquals(err.code, "ECONNREFUSED");
});

Deno.test("plain HTTP: a connection closed by the peer while idle fails its next request without a byte", async () => {
  const request = enc.encode("POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  let served = 0;
  const srv = server(request.length, async (conn) => {
    served++;
    await writeAll(conn, response("ok"));
    conn.close(); // hangs up right after answering: the client's connection is now stale
  });
  try {
    const conn = await open(srv.port);
    assertEquals((await conn.request(request, 5_000)).status, 200);
    // nothing reads an idle connection, so the hang-up shows at the next use, as a close
    // before any response byte: what the transport retries on a fresh connection
    await new Promise((r) => setTimeout(r, 50));
    await assertRejects(() => conn.request(request, 5_000), ConnectionError);
    assertEquals(conn.lastResponseStarted, false);
    assertEquals(served, 1);
  } finally {
    await srv.close();
  }
});
