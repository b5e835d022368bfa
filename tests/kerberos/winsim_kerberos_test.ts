/**
 * The simulator's Kerberos acceptor (winsim --keytab) against clients nobody here wrote:
 * MIT's GSSAPI initiator (tests/peers/gss_winrm_client.py: sealed bodies with gss_wrap_iov,
 * channel bindings, SPNEGO or raw krb5) and pywinrm with requests-kerberos, each with a
 * ticket cache from MIT's kinit; and NMSlite's own client for the demo and benches.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startKdc } from "../helpers/kdc.ts";
import { runGssClient, runPywinrmKerberos } from "../helpers/gss_peers.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { collect } from "../../lib/collectors/windows_winrm.ts";
import { WinrmClient } from "../../lib/winrm/mod.ts";

const HOST = "win-01.nmslite.test";
const SPN = `HTTP/${HOST}`;

Deno.test("winsim accepts Kerberos from MIT GSSAPI, pywinrm and NMSlite", async (t) => {
  await using kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(SPN);
  const cc = await kdc.kinit("alice", "Passw0rd!");
  const sim = await startWinsim({
    hosts: 1,
    base: "127.0.47.1",
    username: "alice",
    password: "not-used-by-kerberos",
    httpPort: 0,
    httpsPort: 0,
    allowUnencrypted: false,
    cbtHardening: "strict",
    kerberos: { keytab: await Deno.readFile(svc.keytabPath), spn: SPN },
  });
  const h = sim.hosts[0];
  const http = `http://${h.ip}:${h.httpPort}/wsman`;
  const https = `https://${h.ip}:${h.httpsPort}/wsman`;
  const env = kdc.envFor(cc);
  try {
    for (const mech of ["spnego", "krb5"] as const) {
      await t.step(
        `MIT initiator (${mech}) over HTTP, sealed, 3 requests on one context`,
        async () => {
          const before = sim.stats(h.ip);
          const r = await runGssClient(http, { spn: SPN, env, encrypt: true, mech, repeat: 3 });
          assertEquals(r.error, undefined, r.error);
          assertEquals(r.auth?.complete, true);
          assertEquals(r.auth?.mutual, true, "our AP-REP satisfied MIT's mutual authentication");
          assertEquals(r.responses.length, 3);
          assert(
            r.responses.every((x) => x.status === 200 && x.encrypted),
            JSON.stringify(r.responses),
          );
          const after = sim.stats(h.ip);
          assertEquals(after.authHandshakes - before.authHandshakes, 1);
          assertEquals(after.sealedMessages - before.sealedMessages, 3);
        },
      );
    }

    await t.step(
      "MIT initiator with the Kerberos label gets its answer in that label",
      async () => {
        const r = await runGssClient(http, {
          spn: SPN,
          env,
          encrypt: true,
          label: "kerberos",
          op: "wql",
        });
        assertEquals(r.error, undefined, r.error);
        assert(r.responses[0].items!.length > 0);
      },
    );

    await t.step("MIT initiator over HTTPS with channel bindings (strict hardening)", async () => {
      const r = await runGssClient(https, { spn: SPN, env, cbt: true, op: "wql" });
      assertEquals(r.error, undefined, r.error);
      assertEquals(r.responses[0].status, 200);
      assert(r.responses[0].items!.length > 0);
    });

    await t.step("wrong channel bindings and tampered bodies are refused", async () => {
      const before = sim.stats(h.ip).authFailures;
      const bad = await runGssClient(https, { spn: SPN, env, cbtCorrupt: true, cbt: true });
      assert(bad.error !== undefined, "a TLS man in the middle's bindings must fail");
      assertEquals(sim.stats(h.ip).authFailures, before + 1);
      const noCbt = await runGssClient(https, { spn: SPN, env });
      assert(noCbt.error !== undefined, "strict hardening refuses missing bindings");
      const tampered = await runGssClient(http, { spn: SPN, env, encrypt: true, tamper: true });
      assert(tampered.error !== undefined || tampered.responses.every((x) => x.status !== 200));
    });

    await t.step("pywinrm + requests-kerberos over HTTPS (Windows' relaxed CBT)", async () => {
      // Debian's pykerberos can neither seal nor bind to the channel: HTTPS, relaxed, as on
      // a stock Windows host.
      const relaxed = await startWinsim({
        hosts: 1,
        base: "127.0.47.9",
        username: "alice",
        httpPort: 0,
        httpsPort: 0,
        allowUnencrypted: false,
        kerberos: { keytab: await Deno.readFile(svc.keytabPath), spn: SPN },
      });
      try {
        const r2 = relaxed.hosts[0];
        const r = await runPywinrmKerberos(`https://${r2.ip}:${r2.httpsPort}/wsman`, {
          env,
          hostnameOverride: HOST,
          repeat: 2,
        });
        assertEquals(r.results.length, 2);
        for (const x of r.results) {
          assert("items" in x && x.items.length > 0, JSON.stringify(x));
        }
        const st = relaxed.stats(r2.ip);
        assert(st.authHandshakes >= 1, "pywinrm authenticated with Kerberos");
        assertEquals(st.authFailures, 0);
        assertEquals(st.basicAuths, 0);
      } finally {
        await relaxed.close();
      }
    });

    await t.step("NMSlite's client over HTTP and HTTPS", async () => {
      for (const secure of [false, true]) {
        const c = new WinrmClient({
          host: h.ip,
          port: secure ? h.httpsPort! : h.httpPort,
          https: secure,
          tls: { verify: "insecure" },
          auth: "kerberos",
          username: `alice@${kdc.realm}`,
          password: "Passw0rd!",
          kerberos: { kdcs: [`${kdc.host}:${kdc.port}`], spn: SPN },
        });
        try {
          const doc = await collect(c);
          assert((doc.memory_total ?? 0) > 0);
        } finally {
          c.close();
        }
      }
    });

    await t.step(
      "an acceptor that requires the mechListMIC (RFC 4178 request-mic): ours is sent and checked",
      async () => {
        const strict = await startWinsim({
          hosts: 1,
          base: "127.0.47.9",
          username: "alice",
          password: "not-used-by-kerberos",
          httpPort: 0,
          httpsPort: 0,
          allowUnencrypted: false,
          kerberos: { keytab: await Deno.readFile(svc.keytabPath), spn: SPN, requireMic: true },
        });
        try {
          const sh = strict.hosts[0];
          for (const secure of [false, true]) {
            const before = strict.stats(sh.ip).authHandshakes;
            const c = new WinrmClient({
              host: sh.ip,
              port: secure ? sh.httpsPort! : sh.httpPort,
              https: secure,
              tls: { verify: "insecure" },
              auth: "kerberos",
              username: `alice@${kdc.realm}`,
              password: "Passw0rd!",
              kerberos: { kdcs: [`${kdc.host}:${kdc.port}`], spn: SPN },
            });
            try {
              const doc = await collect(c); // sealed after the MIC leg: sequence numbers agree
              assert((doc.memory_total ?? 0) > 0);
            } finally {
              c.close();
            }
            assertEquals(strict.stats(sh.ip).authHandshakes - before, 1, "completed on our MIC");
            assertEquals(strict.stats(sh.ip).authFailures, 0);
          }
        } finally {
          await strict.close();
        }
      },
    );
  } finally {
    await sim.close();
  }
});
