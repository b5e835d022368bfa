/**
 * The independent Kerberos peers (tests/peers) proven against each other before any of
 * NMSlite's code is judged by them: MIT's GSSAPI as initiator (python3-gssapi) and pywinrm with
 * requests-kerberos against MIT's GSSAPI as acceptor, with tickets from a real MIT KDC.
 * HTTP with MS-WSMV message encryption (both MIME labels), HTTPS with channel bindings.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startKdc } from "../helpers/kdc.ts";
import {
  type GssClientResult,
  recordGssVectors,
  runGssClient,
  runPywinrmKerberos,
  startGssAcceptor,
  tlsCertificate,
} from "../helpers/gss_peers.ts";
import { startWinsim } from "../../winsim/mod.ts";

const HOST = "win-01.nmslite.test";
const SPN = `HTTP/${HOST}`;

function osCaption(r: GssClientResult, i = 0): string | undefined {
  return r.responses[i]?.items?.[0]?.props.Caption;
}

Deno.test("GSSAPI peers: MIT initiator and pywinrm against the MIT acceptor", async (t) => {
  await using kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(SPN);
  const cc = await kdc.kinit("alice", "Passw0rd!");
  const env = kdc.envFor(cc);

  await t.step("HTTP: SPNEGO, mutual auth, sealed WQL with the SPNEGO label", async () => {
    await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env });
    const r = await runGssClient(acc.url, { spn: SPN, env, encrypt: true, repeat: 3 });
    assertEquals(r.error, undefined);
    assertEquals(r.auth?.mutual, true);
    assertEquals(r.auth?.server_token, true);
    assertEquals(r.responses.map((x) => [x.status, x.encrypted, x.relates_ok]), [
      [200, true, true],
      [200, true, true],
      [200, true, true],
    ]);
    assertEquals(osCaption(r, 2), "Microsoft Windows Server 2019 Standard");
    const auth = await acc.waitFor((e) => e.event === "authenticated");
    assertEquals(auth.initiator, "alice@NMSLITE.TEST");
    assertEquals(auth.target, `${SPN}@NMSLITE.TEST`);
    assertEquals(auth.token_oid, "spnego");
    assertEquals(auth.mech_token_oid, "krb5");
    assertEquals(auth.session_enctype, 18);
    assert((auth.flags as string[]).includes("mutual_authentication"));
    await acc.waitFor((e) => e.event === "request" && e.encrypted === true);
    const decrypted = acc.events.filter((e) => e.event === "decrypted");
    assertEquals(decrypted.length, 3);
    assertEquals(decrypted[0].protocol, "application/HTTP-SPNEGO-session-encrypted");
    // One handshake for the connection: later requests ride on the context (no Authorization).
    assertEquals(acc.events.filter((e) => e.event === "authenticated").length, 1);
  });

  await t.step("HTTP: raw krb5 token, the Kerberos label, Identify", async () => {
    await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env });
    const r = await runGssClient(acc.url, {
      spn: SPN,
      env,
      encrypt: true,
      mech: "krb5",
      op: "identify",
    });
    assertEquals(r.error, undefined);
    assertEquals(r.responses[0].encrypted, true);
    assertEquals(r.responses[0].identify?.ProductVendor, "Microsoft Corporation");
    const dec = await acc.waitFor((e) => e.event === "decrypted");
    assertEquals(dec.protocol, "application/HTTP-Kerberos-session-encrypted");
    assertEquals((await acc.waitFor((e) => e.event === "authenticated")).token_oid, "krb5");
  });

  await t.step("HTTP: a tampered sealed body is refused by gss_unwrap_iov", async () => {
    await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env });
    const r = await runGssClient(acc.url, { spn: SPN, env, encrypt: true, tamper: true });
    assertEquals(r.responses[0]?.status, 400);
    assertEquals(r.responses[0]?.encrypted, false);
    await acc.waitFor((e) => e.event === "unwrap_failed");
  });

  await t.step("HTTP: plaintext SOAP is refused as with AllowUnencrypted=false", async () => {
    await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env });
    const r = await runGssClient(acc.url, { spn: SPN, env });
    assertMatch(r.error ?? "", /HTTP 400/);
    await acc.waitFor((e) => e.event === "rejected_unencrypted");
    // pywinrm cannot seal with Debian's pykerberos, so over HTTP it is refused the same way.
    const py = await runPywinrmKerberos(acc.url, { env, hostnameOverride: HOST });
    assert("error" in py.results[0], JSON.stringify(py.results[0]));
  });

  await t.step("a ticket for another SPN is rejected by the acceptor", async () => {
    const other = await kdc.addService("HTTP/win-09.nmslite.test");
    await using acc = await startGssAcceptor({ keytab: other.keytabPath, env: kdc.env });
    const r = await runGssClient(acc.url, { spn: SPN, env, encrypt: true });
    assertMatch(r.error ?? "", /HTTP 401/);
    const failed = await acc.waitFor((e) => e.event === "auth_failed");
    assertMatch(String(failed.error), /not found in keytab/);
  });

  await t.step("HTTPS: channel bindings verified, missing or wrong ones refused", async () => {
    const tls = await tlsCertificate(kdc.dir);
    await using acc = await startGssAcceptor({
      keytab: svc.keytabPath,
      env: kdc.env,
      tls,
      cbt: "require",
    });
    assertEquals(acc.listening.cert_hash_algorithm, "sha256");
    const ok = await runGssClient(acc.url, { spn: SPN, env, cbt: true });
    assertEquals(ok.error, undefined);
    assertEquals(ok.responses[0].encrypted, false);
    assertEquals(osCaption(ok), "Microsoft Windows Server 2019 Standard");
    const bound = await acc.waitFor((e) => e.event === "authenticated");
    assertEquals(bound.channel_bound, true);
    assertEquals(bound.tls, true);

    const missing = await runGssClient(acc.url, { spn: SPN, env });
    assertMatch(missing.error ?? "", /HTTP 401/);
    await acc.waitFor((e) => e.event === "auth_failed" && /sent none/.test(String(e.reason)));

    const wrong = await runGssClient(acc.url, { spn: SPN, env, cbt: true, cbtCorrupt: true });
    assertMatch(wrong.error ?? "", /HTTP 401/);
    const bad = await acc.waitFor((e) =>
      e.event === "auth_failed" && /accept_sec_context/.test(String(e.reason))
    );
    assertMatch(String(bad.error), /[Cc]hannel binding/);
  });

  await t.step("HTTPS: pywinrm + requests-kerberos under Windows' relaxed CBT", async () => {
    const tls = await tlsCertificate(kdc.dir);
    await using acc = await startGssAcceptor({ keytab: svc.keytabPath, env: kdc.env, tls });
    const py = await runPywinrmKerberos(acc.url, { env, hostnameOverride: HOST, repeat: 2 });
    assertEquals(py.results.length, 2);
    for (const r of py.results) {
      assert("items" in r, JSON.stringify(r));
      assertEquals(r.items[0].props.CSName, "WIN-01");
    }
    const auth = await acc.waitFor((e) => e.event === "authenticated");
    // pykerberos sends the raw krb5 token (no SPNEGO) and no channel bindings.
    assertEquals(auth.token_oid, "krb5");
    assertEquals(auth.channel_bound, false);
    assertEquals(auth.mutual_token, true);
  });

  await t.step("upstream: the acceptor fronts a winsim host for every WMI class", async () => {
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.41.1",
      username: "Administrator",
      password: "sim pass",
      httpPort: 0,
      httpsPort: null,
    });
    try {
      const h = sim.hosts[0];
      await using acc = await startGssAcceptor({
        keytab: svc.keytabPath,
        env: kdc.env,
        upstream: {
          url: `http://${h.ip}:${h.httpPort}/wsman`,
          user: "Administrator",
          password: "sim pass",
        },
      });
      const r = await runGssClient(acc.url, {
        spn: SPN,
        env,
        encrypt: true,
        query: "SELECT DeviceID, Size FROM Win32_LogicalDisk",
      });
      assertEquals(r.error, undefined);
      const disks = sim.instances(h.ip, "Win32_LogicalDisk");
      assertEquals(r.responses[0].items?.length, disks.length);
      assertEquals(r.responses[0].items?.[0].props.DeviceID, String(disks[0].DeviceID));
    } finally {
      await sim.close();
    }
  });

  await t.step("MIT-made vectors: AP-REQ/AP-REP and wrap tokens with the context key", async () => {
    for (const mech of ["krb5", "spnego"] as const) {
      const v = await recordGssVectors({
        spn: SPN,
        keytab: svc.keytabPath,
        env,
        mech,
        plaintexts: ["<s:Envelope/>", "x".repeat(37)],
      });
      assertEquals(v.initiator, "alice@NMSLITE.TEST");
      assertEquals(v.context_enctype, 18);
      assertEquals(v.context_key.length, 64);
      // RFC 4121 sealed AES token: 16-byte header, then confounder, sealed header copy and
      // HMAC rotated into the MS-WSMV "header" part: 16 + 16 + 16 + 12 bytes; data in place.
      for (const w of [...v.initiator_to_acceptor, ...v.acceptor_to_initiator]) {
        assertEquals(w.header.length / 2, 60);
        assertEquals(w.sealed.length, w.plaintext.length);
      }
      // Token ID 05 04; flags: sealed, and AcceptorSubkey; SentByAcceptor only on replies.
      assertEquals(v.initiator_to_acceptor[0].header.slice(0, 6), "050406");
      assertEquals(v.acceptor_to_initiator[0].header.slice(0, 6), "050407");
      assertEquals(v.ap_req.slice(0, 2), "60");
    }
  });
});
