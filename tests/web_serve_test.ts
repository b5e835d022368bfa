/**
 * lib/web/serve.ts with real sockets: a real main.ts under `ulimit -n 1024` survives 1,100 idle
 * connections (keeps serving the connections it has, accepts again when descriptors free up);
 * header-read and idle timeouts close silent and half-sent connections, and a request body that
 * stalls or trickles is cut off at the header timeout after its head; the connection cap
 * holds new connections until one closes.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { fixtureResult } from "./helpers/subprocess.ts";
import { startChildServer } from "../scripts/child_server.ts";
import { serve } from "../lib/web/serve.ts";
import { loadTlsMaterial } from "../lib/tls_certificate.ts";
import { connectionNoDelay } from "../lib/os/tcp_nodelay.ts";
import { CENTRAL_PERMISSIONS } from "./helpers/distributed.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Reads one HTTP response head (and the small body after it) from a kept-alive connection. */
async function readResponse(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(64 * 1024);
  let text = "";
  while (true) {
    const n = await conn.read(buf);
    if (n === null) return text;
    text += dec.decode(buf.subarray(0, n));
    const head = text.indexOf("\r\n\r\n");
    if (head < 0) continue;
    const m = /content-length:\s*(\d+)/i.exec(text.slice(0, head));
    if (!m || text.length - head - 4 >= Number(m[1])) return text;
  }
}

async function request(conn: Deno.Conn, path: string): Promise<string> {
  await conn.write(enc.encode(`GET ${path} HTTP/1.1\r\nhost: test\r\n\r\n`));
  return await readResponse(conn);
}

/** Resolves "closed" when the peer closes the connection (EOF or reset). */
async function waitClosed(conn: Deno.Conn): Promise<"closed"> {
  const buf = new Uint8Array(4096);
  try {
    while ((await conn.read(buf)) !== null) { /* drain */ }
  } catch { /* reset: closed too */ }
  return "closed";
}

function closeAll(conns: Deno.Conn[]): void {
  for (const c of conns) {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

const tick = (ms: number) => new Promise<"open">((r) => setTimeout(() => r("open"), ms));

/** Waits (a generous minute at most) until `cond` holds; false when it never did. */
async function until(cond: () => boolean): Promise<boolean> {
  for (let i = 0; i < 3000 && !cond(); i++) await tick(20);
  return cond();
}

Deno.test({
  name: "main.ts under ulimit -n 1024 survives 1,100 idle connections and accepts again",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChildServer({
      fdLimit: 1024,
      logLevel: "warning",
      // No timeout or cap comes to the rescue here: descriptors must run out.
      env: {
        NMSLITE_POLLING_ENABLED: "false",
        NMSLITE_HEADER_TIMEOUT: "10m",
        NMSLITE_IDLE_TIMEOUT: "10m",
        NMSLITE_MAX_CONNECTIONS: "100000",
      },
    });
    const port = Number(new URL(server.url).port);
    const flood: Deno.Conn[] = [];
    let kept: Deno.Conn | undefined;
    try {
      kept = await connect(port);
      assert((await request(kept, "/health")).startsWith("HTTP/1.1 200"));
      for (let i = 0; i < 1100; i++) flood.push(await connect(port));
      // The process must still be there, and a connection it already had is still served.
      const during = await request(kept, "/health");
      assert(during.startsWith("HTTP/1.1 200"), `kept-alive connection: ${during.slice(0, 80)}`);
      const alive = await Deno.readTextFile(`/proc/${server.pid}/status`).catch(() => "");
      assert(alive.length > 0, "the server process died");
      closeAll(flood);
      flood.length = 0;
      // Descriptors free again: new connections are accepted and answered.
      const res = await fetch(`${server.url}/health`);
      assertEquals(res.status, 200);
      await res.body?.cancel();
    } finally {
      closeAll(flood);
      if (kept) closeAll([kept]);
      await server.stop();
    }
  },
});

Deno.test({
  name: "main.ts closes silent, half-sent and idle kept-alive connections",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const server = await startChildServer({
      logLevel: "warning",
      env: {
        NMSLITE_POLLING_ENABLED: "false",
        NMSLITE_HEADER_TIMEOUT: "500ms",
        NMSLITE_IDLE_TIMEOUT: "500ms",
      },
    });
    const port = Number(new URL(server.url).port);
    const conns: Deno.Conn[] = [];
    try {
      const silent = await connect(port);
      const partial = await connect(port);
      const keptAlive = await connect(port);
      // a request body that stops coming, and one that comes a byte at a time, for ever
      const stalledBody = await connect(port);
      const tricklingBody = await connect(port);
      conns.push(silent, partial, keptAlive, stalledBody, tricklingBody);
      await partial.write(enc.encode("GET /health HTTP/1.1\r\nhost: test\r\nx-slow: "));
      assert((await request(keptAlive, "/health")).startsWith("HTTP/1.1 200"));
      const login = "POST /api/v1/auth/login HTTP/1.1\r\nhost: test\r\n" +
        "content-type: application/json\r\ncontent-length: 1000\r\n\r\n{";
      await stalledBody.write(enc.encode(login));
      await tricklingBody.write(enc.encode(login));
      let trickling = true;
      const trickle = (async () => {
        while (trickling) {
          await tick(50);
          try {
            await tricklingBody.write(enc.encode(" "));
          } catch {
            return; // closed by the server
          }
        }
      })();
      // Each is closed by the server; without the timeouts these reads never end.
      const limit = tick(60_000);
      for (const c of [silent, partial, keptAlive, stalledBody, tricklingBody]) {
        assertEquals(await Promise.race([waitClosed(c), limit]), "closed");
      }
      trickling = false;
      await trickle;
      // and the server goes on serving
      const after = await connect(port);
      conns.push(after);
      assert((await request(after, "/health")).startsWith("HTTP/1.1 200"));
    } finally {
      closeAll(conns);
      await server.stop();
    }
  },
});

Deno.test("serve: beyond maxConnections new connections wait until one closes", async () => {
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    maxConnections: 3,
    headerTimeoutMs: 60_000,
    onWarning: () => {},
  }, () => new Response("ok"));
  const conns: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 3; i++) conns.push(await connect(server.addr.port));
    const extra = await connect(server.addr.port);
    conns.push(extra);
    const answer = request(extra, "/");
    assertEquals(await Promise.race([answer, tick(500)]), "open");
    conns[0].close();
    conns.shift();
    assert((await answer).startsWith("HTTP/1.1 200"));
    assert(server.connections <= 3);
  } finally {
    closeAll(conns);
    await server.shutdown();
  }
});

Deno.test("serve over HTTPS: the certificate of lib/tls_certificate.ts, timeouts, handshakes cut off", async () => {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-serve-tls-" });
  const tls = await loadTlsMaterial({ dataDir: dir });
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: tls.cert, key: tls.key },
    headerTimeoutMs: 500,
    idleTimeoutMs: 500,
    onWarning: () => {},
  }, () => new Response("ok"));
  const port = server.addr.port;
  const conns: Deno.Conn[] = [];
  const client = Deno.createHttpClient({ caCerts: [tls.cert] });
  try {
    // A client that never starts its handshake does not hold up anyone else...
    const silent = await connect(port);
    conns.push(silent);
    const res = await fetch(`https://localhost:${port}/`, { client });
    assertEquals(await res.text(), "ok");
    // ...and holds its slot only until the header timeout: then its socket is shut down (Deno
    // alone cannot close a connection in its handshake; it kept the slot as long as the client
    // liked).
    assert(await until(() => server.connections >= 1), "the silent client is counted");
    assertEquals(await Promise.race([waitClosed(silent), tick(10_000)]), "closed");
    assert(await until(() => server.connections === 0), "its slot is free again");
    const tlsConn = (alpn: string[]) =>
      Deno.connectTls({ hostname: "localhost", port, caCerts: [tls.cert], alpnProtocols: alpn });
    // After the handshake the header timeout applies as over plain HTTP; HTTP/2 is not offered.
    const quiet = await tlsConn(["h2", "http/1.1"]);
    const partial = await tlsConn(["http/1.1"]);
    conns.push(quiet, partial);
    assertEquals((await quiet.handshake()).alpnProtocol, "http/1.1");
    await partial.write(enc.encode("GET / HTTP/1.1\r\nhost: x\r\n"));
    const limit = tick(60_000);
    for (const c of [quiet, partial]) {
      assertEquals(await Promise.race([waitClosed(c), limit]), "closed");
    }
    assert(await until(() => server.connections === 0), "every slot is given back");
  } finally {
    client.close();
    closeAll(conns);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve over HTTPS: accepted connections have TCP_NODELAY (no Nagle wait for the body)", async () => {
  // The engine writes a response's head and body as two TLS records; without TCP_NODELAY the
  // body waits for the client's delayed ACK of the head (~40 ms per response). What is checked
  // here is the socket option on the server's side of a real accepted connection, not a time.
  const dir = await Deno.makeTempDir({ prefix: "nmslite-serve-nodelay-" });
  const tls = await loadTlsMaterial({ dataDir: dir });
  const body = JSON.stringify({ data: "x".repeat(4000) });
  const handler = () => new Response(body, { headers: { "content-type": "application/json" } });
  const warnings: string[] = [];
  const servers = [true, false].map((noDelay) =>
    serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: tls.cert, key: tls.key },
      noDelay,
      onWarning: (m) => warnings.push(m),
    }, handler)
  );
  const plain = serve({ hostname: "127.0.0.1", port: 0, onWarning: () => {} }, handler);
  const conns: Deno.Conn[] = [];
  try {
    const noDelayOf = async (port: number, tlsConn: boolean) => {
      const conn = tlsConn
        ? await Deno.connectTls({ hostname: "localhost", port, caCerts: [tls.cert] })
        : await connect(port);
      conns.push(conn);
      // Two requests in turn on the kept-alive connection, each answered in full.
      for (let i = 0; i < 2; i++) {
        const res = await request(conn, "/");
        assert(res.startsWith("HTTP/1.1 200"), res.slice(0, 40));
        assert(res.endsWith(body), "the whole body arrives");
      }
      return connectionNoDelay(port, (conn.localAddr as Deno.NetAddr).port);
    };
    assertEquals(await noDelayOf(servers[0].addr.port, true), true, "HTTPS (the default)");
    assertEquals(warnings, []);
    // The same listener without the option: the accepted socket lacks it, so the check above
    // is able to fail.
    assertEquals(await noDelayOf(servers[1].addr.port, true), false, "HTTPS, noDelay: false");
    assertEquals(await noDelayOf(plain.addr.port, false), true, "plain HTTP (Deno sets it)");
  } finally {
    closeAll(conns);
    await Promise.all([...servers, plain].map((s) => s.shutdown()));
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("serve over HTTPS with the central role's permissions: TCP_NODELAY without /proc", async () => {
  // The central runs under --deny-write --deny-run, where Deno refuses /proc/self/fd: the
  // listener is then found by asking the low descriptors, not by listing them.
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...CENTRAL_PERMISSIONS,
      new URL("./fixtures/serve/nodelay_probe.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const result = fixtureResult(out);
  assertEquals(result.answered, true);
  assertEquals(result.warnings, [], "no warning about TCP_NODELAY");
  assertEquals(result.noDelay, true, "the accepted connection has TCP_NODELAY");
});

Deno.test("serve: TRACE gets a 405, and the connection's timers leave it alone once it has closed", async () => {
  // Before: rebuilding the Request threw "Method is forbidden" (a 500), the answer settled after
  // the connection had closed and re-armed its idle timer, and the timer's abort of the closed
  // connection threw BadResource uncaught: the process ended (this test with it).
  const server = serve({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: 200,
    idleTimeoutMs: 200,
    onWarning: () => {},
  }, () => new Response("ok"));
  try {
    const answers: string[] = [];
    for (const method of ["TRACE", "CONNECT", "track"]) {
      const conn = await connect(server.addr.port);
      const target = method === "CONNECT" ? "127.0.0.1:1" : "/";
      await conn.write(enc.encode(`${method} ${target} HTTP/1.1\r\nhost: test\r\n\r\n`));
      answers.push(await readResponse(conn));
      conn.close();
    }
    await tick(800); // past both timeouts: what used to fire on the closed connections
    const after = await connect(server.addr.port);
    assert((await request(after, "/")).startsWith("HTTP/1.1 200"));
    after.close();
    for (const answer of answers) {
      assert(answer.startsWith("HTTP/1.1 405"), answer.slice(0, 80));
      assert(answer.includes('"METHOD_NOT_ALLOWED"'), answer);
      assert(/\r\nallow: GET/i.test(answer), answer);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("serve over HTTPS: one address holds at most its cap of connections, others get in", async () => {
  // 512 TCP connections that never began their TLS handshake (which Deno cannot cut short)
  // held every slot for as long as their one client liked: the API was out for everyone.
  const dir = await Deno.makeTempDir({ prefix: "nmslite-serve-cap-" });
  const tls = await loadTlsMaterial({ dataDir: dir });
  const server = serve({
    hostname: "0.0.0.0",
    port: 0,
    tls: { cert: tls.cert, key: tls.key },
    maxConnections: 12,
    maxConnectionsPerAddress: 8,
    headerTimeoutMs: 60_000,
    onWarning: () => {},
  }, () => new Response("ok"));
  const port = server.addr.port;
  const flood: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 8; i++) flood.push(await connect(port)); // never a handshake
    assert(await until(() => server.connections === 8), "the first 8 are held");
    const ninth = await connect(port);
    flood.push(ninth);
    assertEquals(await Promise.race([waitClosed(ninth), tick(10_000)]), "closed");
    assertEquals(server.connections, 8, "the one past the cap was closed at once");
    // a client at another address is served while the flood holds its 8 (node:net can choose
    // the source address; 127.0.0.2 is loopback too)
    const net = await import("node:net");
    const nodeTls = await import("node:tls");
    const answer = await new Promise<string>((resolve, reject) => {
      const raw = net.connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" }, () => {
        const secure = nodeTls.connect({ socket: raw, rejectUnauthorized: false }, () => {
          secure.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
        });
        let text = "";
        secure.on("data", (d: Uint8Array) => text += dec.decode(d));
        secure.on("end", () => resolve(text));
        secure.on("error", reject);
      });
      raw.on("error", reject);
    });
    assert(answer.startsWith("HTTP/1.1 200"), answer.slice(0, 60));
  } finally {
    closeAll(flood);
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
