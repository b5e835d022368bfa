/**
 * Credential type winrm_kerberos through the API: stored with its realm, KDCs and SPN choice,
 * refused with the field named when it cannot work, and tested end to end (POST
 * /credential-profiles/{id}/test) against a simulated host that accepts Kerberos, with a
 * ticket from a real MIT KDC; the SPN comes from the device's host name.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";
import { startKdc } from "../helpers/kdc.ts";
import { startWinsim } from "../../winsim/mod.ts";

const HOST = "win-07.nmslite.test";
const SPN = `HTTP/${HOST}`;

for (const backend of backends()) {
  Deno.test({
    name: `winrm_kerberos credential profiles (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      await using kdc = await startKdc();
      await kdc.addPrincipal("alice", "Passw0rd!");
      const svc = await kdc.addService(SPN);
      const sim = await startWinsim({
        hosts: 1,
        base: "127.0.48.1",
        username: "alice",
        httpPort: 0,
        httpsPort: null,
        allowUnencrypted: false,
        kerberos: { keytab: await Deno.readFile(svc.keytabPath), spn: SPN },
      });
      const s = await startTestServer(backend);
      const token = await s.login();
      const call = (method: string, path: string, body?: unknown) =>
        s.call(method, path, { token, body });
      try {
        const ip = sim.hosts[0].ip;
        let id = 0;
        await t.step(
          "create: realm from user@realm, KDCs and SPN kept, password sealed",
          async () => {
            const res = await call("POST", "/credential-profiles", {
              name: "Domain (Kerberos)",
              type: "winrm_kerberos",
              username: `alice@${kdc.realm.toLowerCase()}`,
              password: "Passw0rd!",
              port: sim.hosts[0].httpPort,
              kerberos_kdcs: [`${kdc.host}:${kdc.port}`],
            });
            assertEquals(res.status, 201, JSON.stringify(res.body));
            id = res.body.data.id;
            assertEquals(res.body.data.kerberos_realm, kdc.realm);
            assertEquals(res.body.data.kerberos_kdcs, [`${kdc.host}:${kdc.port}`]);
            assertEquals(res.body.data.kerberos_spn, null);
            assert(!JSON.stringify(res.body).includes("Passw0rd!"));
          },
        );

        await t.step("validation names the Kerberos field", async () => {
          const base = { name: "k", type: "winrm_kerberos", username: "bob", password: "p" };
          for (
            const [extra, field] of [
              [{}, "kerberos_realm"],
              [{ kerberos_realm: "X.TEST", kerberos_kdcs: ["bad host:x"] }, "kerberos_kdcs"],
              [{ kerberos_realm: "X.TEST", kerberos_spn: "not an spn" }, "kerberos_spn"],
            ] as const
          ) {
            const res = await call("POST", "/credential-profiles", { ...base, ...extra });
            assertEquals(res.status, 400, JSON.stringify(res.body));
            assertEquals(res.body.error.details.field, field, JSON.stringify(res.body));
          }
        });

        await t.step("test against a bare IP: Kerberos needs a host name", async () => {
          const res = await call("POST", `/credential-profiles/${id}/test`, { ip });
          assertEquals(res.status, 200);
          assertEquals(res.body.data.ok, false);
          assertEquals(res.body.data.error.kind, "config");
          assert(/host name/.test(res.body.data.error.message), res.body.data.error.message);
        });

        await t.step(
          "test against a device with a host name: authenticated by Kerberos",
          async () => {
            const dev = await call("POST", "/devices", { ip, hostname: HOST });
            assertEquals(dev.status, 201, JSON.stringify(dev.body));
            const before = sim.stats(ip).authHandshakes;
            const res = await call("POST", `/credential-profiles/${id}/test`, { ip });
            assertEquals(res.body.data.error, null, JSON.stringify(res.body.data.error));
            assertEquals(res.body.data.ok, true);
            assertEquals(
              res.body.data.identity.hostname,
              sim.instances(ip, "Win32_ComputerSystem")[0].Name,
            );
            assertEquals(sim.stats(ip).authHandshakes, before + 1);
            assert(sim.stats(ip).sealedMessages > 0, "sealed over HTTP");
          },
        );

        await t.step(
          "a fixed SPN and a wrong password: typed, one failed pre-authentication",
          async () => {
            const put = await call("PUT", `/credential-profiles/${id}`, {
              kerberos_spn: SPN,
              password: "wrong",
            });
            assertEquals(put.status, 200, JSON.stringify(put.body));
            assertEquals(put.body.data.kerberos_spn, SPN);
            const failed = async () =>
              (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
            const before = await failed();
            const res = await call("POST", `/credential-profiles/${id}/test`, { ip });
            assertEquals(res.body.data.ok, false);
            assertEquals(res.body.data.error.kind, "auth");
            assert(
              /rejected the password/.test(res.body.data.error.message),
              res.body.data.error.message,
            );
            assertEquals(await failed(), before + 1);
          },
        );
      } finally {
        await s.close();
        await sim.close();
      }
    },
  });
}
