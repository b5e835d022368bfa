/**
 * The Kerberos test harness itself: a real MIT KDC in a temp realm (tests/helpers/kdc.ts) and
 * the loopback SRV responder (tests/helpers/dns_srv.ts), checked with MIT's own kinit/kvno/klist
 * before anything of NMSlite is judged against them.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { type Kdc, KdcCommandError, startKdc } from "../helpers/kdc.ts";
import { startDnsSrv } from "../helpers/dns_srv.ts";

const SPN = "HTTP/win-01.nmslite.test";

/** MIT's complaint when kinit fails (KdcCommandError.stderr). */
async function kinitError(kdc: Kdc, principal: string, password: string): Promise<string> {
  const e = await assertRejects(() => kdc.kinit(principal, password), KdcCommandError);
  return (e as KdcCommandError).stderr;
}

Deno.test("MIT KDC: kinit, kvno and the failures a poller must tell apart", async (t) => {
  await using kdc = await startKdc();
  assertEquals(kdc.realm, "NMSLITE.TEST");
  assertEquals(kdc.host, "127.0.0.1");
  assert(kdc.port > 1024);

  await t.step("kinit gets a TGT after pre-authentication, kvno a service ticket", async () => {
    const alice = await kdc.addPrincipal("alice", "Passw0rd!");
    assertEquals(alice.principal, "alice@NMSLITE.TEST");
    assertEquals(alice.keys.map((k) => [k.enctype, k.keyBytes.length]), [[18, 32], [17, 16]]);
    const svc = await kdc.addService(SPN);
    assertEquals(svc.keys.map((k) => [k.enctype, k.kvno, k.keyBytes.length]), [
      [18, 1, 32],
      [17, 1, 16],
    ]);
    const cc = await kdc.kinit("alice", "Passw0rd!");
    assertEquals(await kdc.kvno(SPN, cc), 1);
    const klist = await new Deno.Command("/usr/bin/klist", {
      args: ["-e", cc],
      env: kdc.env,
      stdout: "piped",
    }).output();
    const listing = new TextDecoder().decode(klist.stdout);
    assertMatch(listing, /krbtgt\/NMSLITE\.TEST@NMSLITE\.TEST/);
    assertMatch(
      listing,
      /HTTP\/win-01\.nmslite\.test@NMSLITE\.TEST\n.*Etype \(skey, tkt\): aes256/,
    );
    const reqs = (await kdc.requests()).filter((r) => r.client === "alice@NMSLITE.TEST");
    // Like Active Directory: the first AS-REQ without PA-ENC-TIMESTAMP is asked for it.
    assertEquals(reqs.map((r) => `${r.type} ${r.outcome} ${r.server}`), [
      "AS_REQ NEEDED_PREAUTH krbtgt/NMSLITE.TEST@NMSLITE.TEST",
      "AS_REQ ISSUE krbtgt/NMSLITE.TEST@NMSLITE.TEST",
      "TGS_REQ ISSUE HTTP/win-01.nmslite.test@NMSLITE.TEST",
    ]);
    assert(reqs[0].etypes.includes(18));
  });

  await t.step("the service keytab holds the keys the KDC issues tickets with", async () => {
    const svc = await kdc.addService("HTTP/win-02.nmslite.test");
    const cc = await kdc.kinit("alice", "Passw0rd!");
    await kdc.kvno("HTTP/win-02.nmslite.test", cc);
    // kvno -k decrypts the ticket with the keytab: MIT's proof the exported keys are right.
    const out = await new Deno.Command("/usr/bin/kvno", {
      args: ["-k", svc.keytabPath, "HTTP/win-02.nmslite.test"],
      env: kdc.envFor(cc),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert(out.success, new TextDecoder().decode(out.stderr));
    assertMatch(text, /keytab entry valid/);
  });

  await t.step("wrong password and unknown user", async () => {
    assertMatch(await kinitError(kdc, "alice", "nope"), /Password incorrect/);
    assertMatch(await kinitError(kdc, "mallory", "x"), /not found in Kerberos database/);
    const outcomes = (await kdc.requests()).map((r) => `${r.client} ${r.outcome}`);
    assert(outcomes.includes("alice@NMSLITE.TEST PREAUTH_FAILED"));
    assert(outcomes.includes("mallory@NMSLITE.TEST CLIENT_NOT_FOUND"));
  });

  await t.step(
    "an account locks after lockAfter failures, even for the right password",
    async () => {
      await kdc.addPrincipal("bob", "Bob pass 1", { lockAfter: 3 });
      for (let i = 0; i < 3; i++) {
        assertMatch(await kinitError(kdc, "bob", "wrong"), /Password incorrect/);
      }
      assertMatch(await kinitError(kdc, "bob", "Bob pass 1"), /credentials have been revoked/);
      const bob = (await kdc.requests()).filter((r) => r.client === "bob@NMSLITE.TEST");
      assertEquals(bob.filter((r) => r.outcome === "PREAUTH_FAILED").length, 3);
      assertEquals(bob.at(-1)?.outcome, "LOCKED_OUT");
    },
  );

  await t.step(
    "a service ticket for an unknown SPN is refused (TGS LOOKING_UP_SERVER)",
    async () => {
      const cc = await kdc.kinit("alice", "Passw0rd!");
      const e = await assertRejects(() => kdc.kvno("HTTP/nope.nmslite.test", cc), KdcCommandError);
      assertMatch((e as KdcCommandError).stderr, /not found in Kerberos database/);
      const last = (await kdc.requests()).at(-1);
      assertEquals([last?.type, last?.outcome, last?.server], [
        "TGS_REQ",
        "LOOKING_UP_SERVER",
        "HTTP/nope.nmslite.test@NMSLITE.TEST",
      ]);
    },
  );

  await t.step("an expired password is refused with KDC_ERR_KEY_EXPIRED", async () => {
    await kdc.addPrincipal("carol", "Passw0rd!", { pwExpired: true });
    assertMatch(await kinitError(kdc, "carol", "Passw0rd!"), /Password expired/);
    const carol = (await kdc.requests()).filter((r) => r.client === "carol@NMSLITE.TEST");
    assertEquals(carol[0].outcome, "CLIENT_KEY_EXPIRED");
  });

  await t.step(
    "without required pre-authentication the KDC issues on the first AS-REQ",
    async () => {
      await kdc.addPrincipal("dave", "Passw0rd!", { requiresPreauth: false });
      await kdc.kinit("dave", "Passw0rd!");
      const dave = (await kdc.requests()).filter((r) => r.client === "dave@NMSLITE.TEST");
      assertEquals(dave.map((r) => r.outcome), ["ISSUE"]);
    },
  );

  await t.step("RC4-only principals exist for the refused-unless-allowed test", async () => {
    const rc4 = await kdc.addPrincipal("legacy", "Passw0rd!", { enctypes: ["rc4-hmac"] });
    assertEquals(rc4.keys.map((k) => [k.enctype, k.enctypeName, k.keyBytes.length]), [
      [23, "rc4-hmac", 16],
    ]);
    const withPw = await kdc.addService("HTTP/legacy.nmslite.test", {
      password: "svc pass",
      enctypes: ["aes128-cts-hmac-sha1-96"],
    });
    assertEquals(withPw.keys.map((k) => k.enctype), [17]);
  });

  await t.step("down makes the KDC unreachable, up brings it back on the same port", async () => {
    const port = kdc.port;
    await kdc.down();
    assertMatch(await kinitError(kdc, "alice", "Passw0rd!"), /Cannot contact any KDC/);
    await kdc.up();
    assertEquals(kdc.port, port);
    await kdc.kinit("alice", "Passw0rd!");
  });
});

Deno.test("MIT KDC: TCP only, small UDP replies", async (t) => {
  await t.step("a TCP-only KDC serves kinit", async () => {
    await using kdc = await startKdc({ udp: false });
    await kdc.addPrincipal("alice", "Passw0rd!");
    await kdc.kinit("alice", "Passw0rd!");
    assertMatch(await kdc.log(), /set up 1 sockets/);
  });
  await t.step("maxDgramReplySize pushes MIT's client from UDP to TCP", async () => {
    await using kdc = await startKdc({ maxDgramReplySize: 200 });
    await kdc.addPrincipal("alice", "Passw0rd!");
    const trace = `${kdc.dir}/trace.log`;
    const out = await new Deno.Command("/usr/bin/kinit", {
      args: ["alice"],
      env: { ...kdc.envFor(`${kdc.dir}/cc-trace`), KRB5_TRACE: trace },
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode("Passw0rd!\n"));
    await w.close();
    assert((await out.output()).success);
    // KRB_ERR_RESPONSE_TOO_BIG over UDP, then the same request over TCP.
    assertMatch(await Deno.readTextFile(trace), /Response too big for UDP, retry with TCP/);
    assertMatch(await Deno.readTextFile(trace), /Sending TCP request to stream 127\.0\.0\.1:\d+/);
  });
});

Deno.test("SRV responder answers _kerberos SRV and A queries on loopback", async () => {
  await using dns = await startDnsSrv({
    srv: {
      "_kerberos._tcp.NMSLITE.TEST": [
        { priority: 0, weight: 10, port: 8888, target: "kdc1.nmslite.test" },
        { priority: 10, weight: 0, port: 88, target: "kdc2.nmslite.test" },
      ],
    },
    a: { "kdc1.nmslite.test": ["127.0.0.1"] },
  });
  const srv = await Deno.resolveDns("_kerberos._tcp.NMSLITE.TEST", "SRV", {
    nameServer: dns.nameServer,
  });
  assertEquals(srv.map((r) => ({ ...r })), [
    { priority: 0, weight: 10, port: 8888, target: "kdc1.nmslite.test." },
    { priority: 10, weight: 0, port: 88, target: "kdc2.nmslite.test." },
  ]);
  assertEquals(
    await Deno.resolveDns("kdc1.nmslite.test", "A", { nameServer: dns.nameServer }),
    ["127.0.0.1"],
  );
  await assertRejects(
    () => Deno.resolveDns("_kerberos._udp.NMSLITE.TEST", "SRV", { nameServer: dns.nameServer }),
    Deno.errors.NotFound,
  );
  dns.set({
    srv: {
      "_kerberos._udp.nmslite.test": [{
        priority: 0,
        weight: 0,
        port: 99,
        target: "k.nmslite.test",
      }],
    },
  });
  const udp = await Deno.resolveDns("_kerberos._udp.NMSLITE.TEST", "SRV", {
    nameServer: dns.nameServer,
  });
  assertEquals(udp.map((r) => r.port), [99]);
  assertEquals(dns.queries.map((q) => `${q.type} ${q.name}`), [
    "SRV _kerberos._tcp.nmslite.test",
    "A kdc1.nmslite.test",
    "SRV _kerberos._udp.nmslite.test",
    "SRV _kerberos._udp.nmslite.test",
  ]);
});
