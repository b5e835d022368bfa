/**
 * Pinning (lib/winrm/tls_verify.ts): a private CA, or the server's own leaf issued by that CA
 * (by PEM or by SHA-256 fingerprint), on real TLS sockets against a canned responder; pinned
 * material that is not a certificate is refused before any connection.
 */
import { X509Certificate } from "node:crypto";
import selfsigned from "selfsigned";
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { ConfigError, TlsError, type WinrmClientOptions } from "../../lib/winrm/mod.ts";
import { answering, cannedClient, fixture, httpReply, startCanned } from "./canned_server.ts";

const SOAP = [["Content-Type", "application/soap+xml;charset=UTF-8"]] as [string, string][];
const WQL = "SELECT * FROM Win32_OperatingSystem";
const DAY = 86_400_000;

async function privateCa() {
  const ca = await selfsigned.generate([{ name: "commonName", value: "Private Root CA" }], {
    keySize: 2048,
    algorithm: "sha256",
    extensions: [{ name: "basicConstraints", cA: true }, { name: "keyUsage", keyCertSign: true }],
  });
  const leaf = (cn: string, notAfter = new Date(Date.now() + 30 * DAY), notBefore?: Date) =>
    selfsigned.generate([{ name: "commonName", value: cn }], {
      keySize: 2048,
      algorithm: "sha256",
      notBeforeDate: notBefore,
      notAfterDate: notAfter,
      ca: { key: ca.private, cert: ca.cert },
      extensions: [
        { name: "basicConstraints", cA: false },
        { name: "subjectAltName", altNames: [{ type: 2, value: cn }] },
      ],
    });
  return {
    ca,
    leaf: await leaf("winhost.example"),
    other: await leaf("other.example"),
    expired: await leaf(
      "winhost.example",
      new Date(Date.now() - DAY),
      new Date(Date.now() - 9 * DAY),
    ),
  };
}

function client(port: number, tls: WinrmClientOptions["tls"]) {
  return cannedClient(port, { https: true, allowUnencrypted: false, tls });
}

Deno.test("pinning the server's leaf issued by a private CA: by PEM or by fingerprint", async () => {
  const { ca, leaf, other, expired } = await privateCa();
  const xml = fixture("os_star.xml");
  const server = startCanned((req) => httpReply(200, SOAP, answering(req, xml)), {
    cert: leaf.cert,
    key: leaf.private,
  });
  const expiredServer = startCanned((req) => httpReply(200, SOAP, answering(req, xml)), {
    cert: expired.cert,
    key: expired.private,
  });
  const fp = new X509Certificate(leaf.cert).fingerprint256; // "AB:CD:…"
  const cases: [WinrmClientOptions["tls"], string | null, number?][] = [
    // the leaf itself, though it is no CA and names winhost.example while we dial 127.0.0.1
    [{ verify: "pinned", caPem: leaf.cert }, null],
    [{ verify: "pinned", fingerprints: [fp] }, null],
    [{ verify: "pinned", fingerprints: [fp.replaceAll(":", "").toLowerCase()] }, null],
    // the CA: the chain is checked and so is the name
    [{ verify: "pinned", caPem: ca.cert, servername: "winhost.example" }, null],
    [{ verify: "pinned", caPem: ca.cert }, "hostname-mismatch"],
    // another leaf of the same CA is not the pinned one
    [{ verify: "pinned", caPem: other.cert }, "untrusted-issuer"],
    [
      { verify: "pinned", fingerprints: [new X509Certificate(other.cert).fingerprint256] },
      "untrusted-issuer",
    ],
    // a pinned leaf's dates still count
    [{ verify: "pinned", caPem: expired.cert }, "expired", expiredServer.port],
  ];
  try {
    for (const [tls, problem, port] of cases) {
      const c = client(port ?? server.port, tls);
      try {
        if (problem === null) {
          assertEquals((await c.enumerate(WQL)).length, 1, JSON.stringify(tls));
        } else {
          const err = await assertRejects(() => c.enumerate(WQL), TlsError);
          assertEquals((err as TlsError).problem, problem, err.message);
          if (problem === "untrusted-issuer") {
            assert(err.message.includes(fp), `names the fingerprint it saw: ${err.message}`);
          }
        }
      } finally {
        c.close();
      }
    }
  } finally {
    await server.close();
    await expiredServer.close();
  }
});

Deno.test("pinned material that is not a certificate is a ConfigError, before connecting", () => {
  const bad: [WinrmClientOptions["tls"], string][] = [
    [{ verify: "pinned", caPem: "this is not a certificate" }, "not PEM"],
    [
      { verify: "pinned", caPem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----" },
      "not PEM",
    ],
    [
      { verify: "pinned", caPem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" },
      "unreadable certificate",
    ],
    [{ verify: "pinned" }, "needs a CA or certificate PEM, or a SHA-256 fingerprint"],
    [{ verify: "pinned", fingerprints: ["AB:CD"] }, "64 hex digits"],
  ];
  for (const [tls, message] of bad) {
    assertThrows(() => client(1, tls), ConfigError, message);
  }
});
