/**
 * Errors say what happened and where: a channel binding refused behind a TLS-inspecting proxy,
 * Basic refused over plain HTTP by AllowUnencrypted=false, a caller's deadline, truncated
 * responses. Real sockets against the simulator and a canned responder.
 */
import { X509Certificate } from "node:crypto";
import selfsigned from "selfsigned";
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import {
  AuthenticationError,
  ProtocolError,
  TimeoutError,
  WinrmClient,
} from "../../lib/winrm/mod.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { cannedClient, fixture, httpReply, startCanned } from "./canned_server.ts";
import { clientFor, PASSWORD, using, withSim } from "./sim_helpers.ts";

const WQL = "SELECT * FROM Win32_OperatingSystem";

/** Terminates TLS with its own certificate and relays the bytes to the simulator over TLS. */
async function tlsInspectingProxy(target: { port: number; caPem: string }) {
  const own = await selfsigned.generate([{ name: "commonName", value: "proxy" }], {
    keySize: 2048,
    algorithm: "sha256",
  });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: own.cert,
    key: own.private,
  });
  const open = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const inbound of listener) {
      const outbound = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: target.port,
        caCerts: [target.caPem],
      });
      open.add(inbound).add(outbound);
      const close = () => {
        for (const c of [inbound, outbound]) {
          try {
            c.close();
          } catch { /* closed */ }
          open.delete(c);
        }
      };
      inbound.readable.pipeTo(outbound.writable).catch(() => {}).finally(close);
      outbound.readable.pipeTo(inbound.writable).catch(() => {}).finally(close);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    certificatePem: own.cert,
    async close() {
      listener.close();
      for (const c of open) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await loop;
    },
  };
}

Deno.test("NTLM behind a TLS-inspecting proxy: the refusal names the channel binding", async () => {
  const sim = await startWinsim({
    hosts: 1,
    base: "127.0.0.1", // the simulator's certificate names 127.0.0.1
    httpPort: 0,
    httpsPort: 0,
    password: PASSWORD,
  });
  const proxy = await tlsInspectingProxy({
    port: sim.hosts[0].httpsPort!,
    caPem: sim.certificatePem,
  });
  try {
    const c = new WinrmClient({
      host: "127.0.0.1",
      port: proxy.port,
      https: true,
      auth: "ntlm",
      username: sim.username,
      password: PASSWORD,
      tls: { verify: "insecure" },
      timeouts: { connectMs: 5_000, readMs: 10_000, operationMs: 20_000 },
    });
    await using(c, async () => {
      const err = await assertRejects(() => c.enumerate(WQL), AuthenticationError);
      assert(err.message.includes("channel binding"), err.message);
      assert(
        err.message.includes(new X509Certificate(proxy.certificatePem).fingerprint256),
        "names the certificate the client saw",
      );
    });
    assertEquals(sim.stats("127.0.0.1").authFailures, 1);
  } finally {
    await proxy.close();
    await sim.close();
  }
});

Deno.test("Basic over plain HTTP refused by AllowUnencrypted=false names it", async () => {
  const sim = await startWinsim({
    hosts: 1,
    base: "127.0.61.1",
    httpPort: 0,
    httpsPort: null,
    password: PASSWORD,
    allowUnencrypted: false,
  });
  try {
    await using(clientFor(sim, "basic-http"), async (c) => {
      const err = await assertRejects(() => c.enumerate(WQL), AuthenticationError);
      assert(err.message.includes("AllowUnencrypted"), err.message);
      assert(err.message.startsWith(c.endpoint), err.message);
    });
  } finally {
    await sim.close();
  }
});

Deno.test("a caller's deadline names the endpoint", () =>
  withSim(async (sim) => {
    sim.setFault(sim.hosts[0].ip, { kind: "hang" });
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      const ctl = new AbortController();
      const p = c.enumerate(WQL, { signal: ctl.signal });
      ctl.abort(new DOMException("deadline", "TimeoutError"));
      const err = await assertRejects(() => p, TimeoutError);
      assert(err.message.startsWith(c.endpoint), err.message);
      assert(err.message.includes("deadline"), err.message);
    });
  }));

Deno.test("truncated responses name the endpoint", async () => {
  const xml = fixture("os_star.xml");
  const replies = [
    // the body stops short and the server hangs up
    [`HTTP/1.1 200 OK\r\nContent-Length: ${xml.length}\r\n\r\n${xml.slice(0, 200)}`, "close"],
    // the HTTP message is whole, the XML in it is not
    httpReply(200, [["Content-Type", "application/soap+xml;charset=UTF-8"]], xml.slice(0, 300)),
  ];
  let i = 0;
  const server = startCanned(() => replies[i++] as string[]);
  const c = cannedClient(server.port);
  try {
    for (const what of ["truncated", "XML"]) {
      const err = await assertRejects(() => c.enumerate(WQL), ProtocolError);
      assert(
        err.message.startsWith(`http://127.0.0.1:${server.port}: `),
        `${what}: ${err.message}`,
      );
    }
  } finally {
    c.close();
    await server.close();
  }
});

Deno.test("a response that relates to another request is refused as out of step", async () => {
  const xml = fixture("os_star.xml");
  const idOf = (body: string) => /<a:MessageID>([^<]+)<\/a:MessageID>/.exec(body)![1];
  const answer = (relatesTo: string | null) =>
    httpReply(
      200,
      [["Content-Type", "application/soap+xml;charset=UTF-8"]],
      xml.replace(
        /<a:RelatesTo>[^<]*<\/a:RelatesTo>/,
        relatesTo === null ? "" : `<a:RelatesTo>${relatesTo}</a:RelatesTo>`,
      ),
    );
  // per request: the MessageID it relates to, from the requests seen so far
  let relate: (ids: string[]) => string | null = (ids) => ids.at(-1)!;
  const ids: string[] = [];
  const server = startCanned((req) => {
    ids.push(idOf(req.body));
    return answer(relate(ids));
  });
  const c = cannedClient(server.port);
  try {
    // the answer to each request: taken, in Windows' upper case too, and without RelatesTo
    assertEquals((await c.enumerate(WQL)).length, 1);
    relate = (seen) => seen.at(-1)!.toUpperCase().replace("UUID:", "uuid:");
    assertEquals((await c.enumerate(WQL)).length, 1);
    relate = () => null;
    assertEquals((await c.enumerate(WQL)).length, 1);
    // pipelined: the second answer repeats the first request's id
    relate = (seen) => seen.length % 2 === 0 ? seen.at(-2)! : seen.at(-1)!;
    ids.length = 0;
    const err = await assertRejects(() => c.enumerateAll([WQL, WQL]), ProtocolError);
    assert(err.message.startsWith(`http://127.0.0.1:${server.port}: `), err.message);
    assert(err.message.includes("out of step"), err.message);
    assert(err.message.includes(ids[1]), `names the request it answers: ${err.message}`);
    assertEquals(ids.length, 2, "both requests were sent");
    // the connection that carried them is closed, not kept for the next poll
    assertEquals(c.stats().opened, 1);
    assertEquals(c.stats().idle, 0, "the out-of-step connection left the pool");
    relate = (seen) => seen.at(-1)!;
    assertEquals((await c.enumerate(WQL)).length, 1);
    assertEquals(c.stats().opened, 2, "the next request went out on a new connection");
  } finally {
    c.close();
    await server.close();
  }
});
