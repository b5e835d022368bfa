/**
 * The node's trust in the central: a CA file, or a pinned SHA-256 of its certificate; a
 * wrong pin or an untrusted certificate fails, and plain http is refused off loopback.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { CentralClient, CentralTlsError } from "../../lib/node/central_client.ts";
import { selfSignedServerCertificate } from "../../lib/tls_certificate.ts";
import { X509Certificate } from "node:crypto";

Deno.test({
  name: "central client: CA file, pinned fingerprint, refusals",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pems = await selfSignedServerCertificate("central", 2);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: pems.cert, key: pems.private, onListen() {} },
      () => Response.json({ success: true, data: { hello: "node" } }),
    );
    const url = `https://127.0.0.1:${server.addr.port}`;
    try {
      const byCa = await CentralClient.create(url, { caPem: pems.cert });
      assertEquals(await byCa.post("/x", {}), { hello: "node" });
      byCa.close();

      const pin = new X509Certificate(pems.cert).fingerprint256;
      const pinned = await CentralClient.create(url, { fingerprint: pin });
      assertEquals(await pinned.post("/x", {}), { hello: "node" });
      pinned.close();

      await assertRejects(
        () => CentralClient.create(url, { fingerprint: "00".repeat(32) }),
        CentralTlsError,
        "not the pinned one",
      );
      // neither a CA nor a pin: the system store does not know this certificate
      const untrusted = await CentralClient.create(url, {});
      const err = await untrusted.post("/x", {}).catch((e) => e);
      assert(err instanceof Error, "an unknown certificate is refused");
      untrusted.close();
      await assertRejects(
        () => CentralClient.create("http://nms.example.com", {}),
        CentralTlsError,
        "not https",
      );
    } finally {
      await server.shutdown();
    }
  },
});
