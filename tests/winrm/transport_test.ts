/**
 * HTTP framing and TLS verification edge cases, on real loopback sockets against a canned
 * responder (tests/winrm/canned_server.ts), plus the response parser on its own.
 */
import { Buffer } from "node:buffer";
import selfsigned from "selfsigned";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { indexOfCrlf, responseBodyLimit, ResponseParser } from "../../lib/winrm/http.ts";
import {
  AuthenticationError,
  ProtocolError,
  TlsError,
  type WinrmClientOptions,
} from "../../lib/winrm/mod.ts";
import {
  answering,
  cannedClient,
  type CannedRequest,
  fixture,
  httpReply,
  startCanned,
} from "./canned_server.ts";

const SOAP = [["Content-Type", "application/soap+xml;charset=UTF-8"]] as [string, string][];
const WQL = "SELECT * FROM Win32_OperatingSystem";

const basicClient = cannedClient;

Deno.test("parser: repeated WWW-Authenticate, chunked body, 100 Continue, byte by byte", () => {
  const raw = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\n" +
    'WWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm="WSMAN"\r\n' +
    "Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n";
  const p = new ResponseParser();
  let res = null;
  for (const byte of Buffer.from(raw)) res ??= p.push(Buffer.from([byte]));
  assert(res);
  assertEquals(res.status, 401);
  assertEquals(res.headers.get("www-authenticate"), ["Negotiate", 'Basic realm="WSMAN"']);
  assertEquals(res.body.toString(), "hello world");
  assertEquals(res.keepAlive, true);
  const closeDelimited = new ResponseParser();
  assertEquals(closeDelimited.push(Buffer.from("HTTP/1.0 200 OK\r\n\r\nabc")), null);
  assertEquals(closeDelimited.end().body.toString(), "abc");
  const truncated = new ResponseParser();
  truncated.push(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"));
  assertThrows(() => truncated.end(), ProtocolError, "truncated");
  assertThrows(
    () => new ResponseParser().push(Buffer.from("SSH-2.0-OpenSSH\r\n\r\n")),
    ProtocolError,
  );
});

Deno.test("parser: a body past the bound, an endless trailer and a flood of 1xx are refused", () => {
  const head = (cl: number) => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${cl}\r\n\r\n`);
  // at the bound a body is taken; one byte more is refused from its Content-Length alone
  const atBound = new ResponseParser(1000);
  assertEquals(atBound.push(head(1000)), null);
  assertEquals(atBound.push(Buffer.alloc(1000, 120))?.body.length, 1000);
  assertThrows(() => new ResponseParser(1000).push(head(1001)), ProtocolError, "over 1000 bytes");
  // chunked: refused at the chunk that crosses the bound, before its bytes arrive
  const chunked = new ResponseParser(1000);
  chunked.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
  chunked.push(Buffer.from(`${(600).toString(16)}\r\n`));
  chunked.push(Buffer.alloc(600, 120));
  assertThrows(() => chunked.push(Buffer.from(`\r\n${(401).toString(16)}\r\n`)), ProtocolError);
  const huge = new ResponseParser();
  huge.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
  assertThrows(() => huge.push(Buffer.from("f".repeat(400) + "\r\n")), ProtocolError, "over");
  // close-delimited: refused as the bytes come
  const closing = new ResponseParser(1000);
  closing.push(Buffer.from("HTTP/1.0 200 OK\r\n\r\n"));
  closing.push(Buffer.alloc(1000, 120));
  assertThrows(() => closing.push(Buffer.alloc(1, 120)), ProtocolError, "over 1000 bytes");
  // a trailer line that never ends, or trailer lines without end
  const trailer = new ResponseParser();
  trailer.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"));
  assertThrows(
    () => {
      for (let i = 0; i < 100; i++) trailer.push(Buffer.alloc(1024, 120));
    },
    ProtocolError,
    "trailer too large",
  );
  const trailers = new ResponseParser();
  trailers.push(Buffer.from("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"));
  assertThrows(
    () => {
      for (let i = 0; i < 10_000; i++) trailers.push(Buffer.from("X-T: 1\r\n"));
    },
    ProtocolError,
    "trailer too large",
  );
  // one 100 Continue is normal; a stream of them is not a WinRM service
  const interim = new ResponseParser();
  assertThrows(
    () => {
      for (let i = 0; i < 100; i++) interim.push(Buffer.from("HTTP/1.1 100 Continue\r\n\r\n"));
    },
    ProtocolError,
    "interim",
  );
  // the bound a WinRM client sets: its MaxEnvelopeSize twice, and 64 KiB
  assertEquals(responseBodyLimit(153_600), 2 * 153_600 + 65_536);
});

Deno.test("a peer that sends more than an envelope's worth is cut off; the next request gets a fresh connection", async () => {
  const xml = fixture("os_star.xml");
  const bound = responseBodyLimit(153_600);
  const big = Buffer.alloc(64 * 1024, 120);
  let n = 0;
  const server = startCanned((req) => {
    n++;
    if (n === 1) {
      // announced too large: refused at the head
      return [
        `HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: ${
          bound + 1
        }\r\n\r\n`,
        big,
      ];
    }
    if (n === 2) {
      // chunked, streaming without end: cut off once past the bound
      const pieces: (string | Uint8Array)[] = [
        "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n" +
        "Transfer-Encoding: chunked\r\n\r\n",
      ];
      for (let i = 0; i < 16; i++) pieces.push(`${big.length.toString(16)}\r\n`, big, "\r\n");
      return pieces;
    }
    return httpReply(200, SOAP, answering(req, xml));
  });
  const c = basicClient(server.port);
  try {
    await assertRejects(() => c.enumerate(WQL), ProtocolError, `over ${bound} bytes`);
    await assertRejects(() => c.enumerate(WQL), ProtocolError, `over ${bound} bytes`);
    const [os] = await c.enumerate(WQL);
    assertEquals(os.CSName, "AMAZONA-Q2R281F");
    assertEquals(server.connections, 3);
  } finally {
    c.close();
    await server.close();
  }
});

Deno.test("parser: the CRLF search agrees with Buffer.indexOf on every short string of CR, LF, x", () => {
  const alphabet = [13, 10, 120];
  for (let len = 0; len <= 8; len++) {
    for (let n = 0; n < 3 ** len; n++) {
      const b = Buffer.alloc(len);
      for (let i = 0, k = n; i < len; i++, k = Math.floor(k / 3)) b[i] = alphabet[k % 3];
      assertEquals(indexOfCrlf(b, 1), b.indexOf("\r\n"), JSON.stringify(b.toString()));
      assertEquals(indexOfCrlf(b, 2), b.indexOf("\r\n\r\n"), JSON.stringify(b.toString()));
    }
  }
});

Deno.test("chunked responses written in pieces; keep-alive reuse", async () => {
  const xml = fixture("os_star.xml");
  const server = startCanned((req) => {
    const head = "HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n" +
      "Transfer-Encoding: chunked\r\n\r\n";
    const answer = answering(req, xml);
    const a = Buffer.from(answer.slice(0, 700)), b = Buffer.from(answer.slice(700));
    return [
      head,
      `${a.length.toString(16)}\r\n`,
      a,
      `\r\n${b.length.toString(16)}\r\n`,
      b,
      "\r\n0\r\n\r\n",
    ];
  });
  const c = basicClient(server.port);
  try {
    for (let i = 0; i < 3; i++) {
      const [os] = await c.enumerate(WQL);
      assertEquals(os.CSName, "AMAZONA-Q2R281F");
    }
    assertEquals(server.connections, 1);
    const auth = /authorization: (.*)/i.exec(server.requests[0].head)![1];
    assertEquals(auth, "Basic " + btoa("admin:pw"));
    assert(server.requests[0].body.includes("<w:Filter Dialect="));
  } finally {
    c.close();
    await server.close();
  }
});

Deno.test("truncated, garbage and non-SOAP responses are ProtocolErrors", async () => {
  const xml = fixture("os_star.xml");
  const replies = [
    `HTTP/1.1 200 OK\r\nContent-Length: ${xml.length}\r\n\r\n${xml.slice(0, 200)}`, // then close
    "NOT HTTP AT ALL\r\n\r\n",
    httpReply(200, SOAP, "<html>proxy error</html>"),
    httpReply(502, [["Content-Type", "text/html"]], "<html>bad gateway</html>"),
    httpReply(200, SOAP, xml.slice(0, xml.length - 40)),
  ];
  let i = 0;
  const server = startCanned(() => {
    const r = replies[i++];
    return i === 1 ? [r, "close"] : r;
  });
  const c = basicClient(server.port);
  try {
    for (let n = 0; n < replies.length; n++) {
      const err = await assertRejects(() => c.enumerate(WQL), ProtocolError);
      assertEquals((err as ProtocolError).kind, "protocol");
    }
  } finally {
    c.close();
    await server.close();
  }
});

Deno.test("a server closing an idle keep-alive connection costs nothing visible", async () => {
  const xml = fixture("os_star.xml");
  // answers, then hangs up on the next request without a byte (a stale keep-alive)
  const server = startCanned((req) =>
    req.seq === 1 ? httpReply(200, SOAP, answering(req, xml)) : "close"
  );
  const c = basicClient(server.port);
  try {
    await c.enumerate(WQL);
    await c.enumerate(WQL);
    await c.enumerate(WQL);
    assertEquals(server.connections, 3);
  } finally {
    c.close();
    await server.close();
  }
});

Deno.test("Basic 401 says so; the server's schemes are read from every header", async () => {
  const server = startCanned(() =>
    httpReply(401, [["WWW-Authenticate", "Negotiate"], ["WWW-Authenticate", 'Basic realm="WSMAN"']])
  );
  const c = basicClient(server.port);
  try {
    const err = await assertRejects(() => c.enumerate(WQL), AuthenticationError);
    assert(!err.message.includes("not enabled"));
    assertEquals(server.requests.length, 1, "one attempt only");
  } finally {
    c.close();
    await server.close();
  }
});

async function pki() {
  const ca = await selfsigned.generate([{ name: "commonName", value: "Test Root CA" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true }],
  });
  const leaf = (notAfter: Date, notBefore?: Date) =>
    selfsigned.generate([{ name: "commonName", value: "winhost.example" }], {
      keySize: 2048,
      algorithm: "sha256",
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "subjectAltName", altNames: [{ type: 2, value: "winhost.example" }] },
      ],
    });
  const day = 86_400_000;
  return {
    ca,
    good: await leaf(new Date(Date.now() + 30 * day)),
    expired: await leaf(new Date(Date.now() - day), new Date(Date.now() - 10 * day)),
  };
}

Deno.test("TLS errors name the problem: hostname mismatch, expired, untrusted issuer", async () => {
  const { ca, good, expired } = await pki();
  const xml = fixture("os_star.xml");
  const ok = (req: CannedRequest) => httpReply(200, SOAP, answering(req, xml));
  const goodServer = startCanned(ok, { cert: good.cert, key: good.private });
  const expiredServer = startCanned(ok, { cert: expired.cert, key: expired.private });
  const https = (port: number, tls: WinrmClientOptions["tls"]) =>
    basicClient(port, { https: true, tls });
  const cases: [number, WinrmClientOptions["tls"], string | null][] = [
    [goodServer.port, { verify: "pinned", caPem: ca.cert }, "hostname-mismatch"],
    [goodServer.port, { verify: "pinned", caPem: ca.cert, servername: "winhost.example" }, null],
    [goodServer.port, { verify: "system", servername: "winhost.example" }, "untrusted-issuer"],
    [goodServer.port, { verify: "insecure" }, null],
    [
      expiredServer.port,
      { verify: "pinned", caPem: ca.cert, servername: "winhost.example" },
      "expired",
    ],
  ];
  try {
    for (const [port, tls, problem] of cases) {
      const c = https(port, tls);
      try {
        if (problem === null) {
          assertEquals((await c.enumerate(WQL)).length, 1);
        } else {
          const err = await assertRejects(() => c.enumerate(WQL), TlsError);
          assertEquals((err as TlsError).problem, problem, err.message);
        }
      } finally {
        c.close();
      }
    }
    assertEquals(expiredServer.requests.length, 0);
  } finally {
    await goodServer.close();
    await expiredServer.close();
  }
});
