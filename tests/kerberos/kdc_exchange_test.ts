/**
 * NMSlite's AS and TGS exchanges against a real MIT KDC (tests/helpers/kdc.ts): tickets for
 * both AES types, and each failure as its typed error. `kinit`/`kvno` prove the realm works
 * before NMSlite is asked anything, so a failure here is ours.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { startKdc } from "../helpers/kdc.ts";
import { startDnsSrv } from "../helpers/dns_srv.ts";
import { KerberosClient } from "../../lib/kerberos/client.ts";
import { KerberosError } from "../../lib/kerberos/errors.ts";
import { decrypt, USAGE } from "../../lib/kerberos/crypto.ts";
import { keytabKeyFor, parseKeytab } from "../../lib/kerberos/keytab.ts";

const SPN = "HTTP/win-01.nmslite.test";

async function problem(p: Promise<unknown>): Promise<KerberosError> {
  const err = await assertRejects(() => p, KerberosError);
  return err as KerberosError;
}

Deno.test("kerberos vs MIT KDC: tickets, keytab and every typed failure", async (t) => {
  await using kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(SPN);
  const cc = await kdc.kinit("alice", "Passw0rd!");
  assert(await kdc.kvno(SPN, cc) >= 1, "the realm works for MIT's own tools");
  const kdcs = [`${kdc.host}:${kdc.port}`];
  const client = (principal: string, password: string, extra = {}) =>
    new KerberosClient({ principal, password, kdcs, ...extra });

  await t.step("AS + TGS: the service ticket decrypts with the keytab's key", async () => {
    const c = client(`alice@${kdc.realm}`, "Passw0rd!");
    const st = await c.serviceTicket(SPN);
    assertEquals(st.sessionKey.etype, 18);
    const keys = parseKeytab(await Deno.readFile(svc.keytabPath));
    const key = keytabKeyFor(keys, st.ticket.encPart.etype, st.ticket.encPart.kvno);
    decrypt(key, USAGE.KDC_REP_TICKET, st.ticket.encPart.cipher); // throws if not MIT's ticket
    assertEquals(c.stats, { asRequests: 2, asFailures: 0, tgsRequests: 1 });
    // cached: no further KDC traffic
    await c.serviceTicket(SPN);
    await c.serviceTicket(SPN.toUpperCase().replace("HTTP", "http"));
    assertEquals(c.stats.tgsRequests, 1);
    const log = await kdc.requests();
    assert(
      log.some((r) =>
        r.type === "AS_REQ" && r.outcome === "ISSUE" && r.client.startsWith("alice@")
      ),
    );
    assert(
      log.some((r) => r.type === "TGS_REQ" && r.outcome === "ISSUE" && r.server.startsWith(SPN)),
    );
  });

  await t.step("DOMAIN\\user with a realm, and an aes128-only account", async () => {
    await kdc.addPrincipal("bob", "Bob-pass1", { enctypes: ["aes128-cts-hmac-sha1-96"] });
    const c = client("NMSLITE\\bob", "Bob-pass1", { realm: kdc.realm });
    const st = await c.serviceTicket(SPN);
    assertEquals(c.principal, `bob@${kdc.realm}`);
    assert(st.endtime > Date.now());
  });

  await t.step("wrong password: KDC_ERR_PREAUTH_FAILED, one failed AS-REQ", async () => {
    const before = (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
    const c = client(`alice@${kdc.realm}`, "wrong");
    const err = await problem(c.serviceTicket(SPN));
    assertEquals(err.problem, "wrong_password");
    assertEquals(err.code, 24);
    assert(!err.message.includes("wrong"), "no password in the message");
    const after = (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
    assertEquals(after - before, 1);
    assertEquals(c.stats.asFailures, 1);
  });

  await t.step("concurrent callers share one AS exchange", async () => {
    const before = (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
    const c = client(`alice@${kdc.realm}`, "wrong-again");
    const all = await Promise.allSettled([1, 2, 3, 4].map(() => c.serviceTicket(SPN)));
    assert(all.every((r) => r.status === "rejected"));
    const after = (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
    assertEquals(after - before, 1);
  });

  await t.step("unknown user: KDC_ERR_C_PRINCIPAL_UNKNOWN", async () => {
    const err = await problem(client(`nobody@${kdc.realm}`, "x").serviceTicket(SPN));
    assertEquals(err.problem, "unknown_client");
    assertEquals(err.code, 6);
  });

  await t.step("SPN unknown: KDC_ERR_S_PRINCIPAL_UNKNOWN", async () => {
    const err = await problem(
      client(`alice@${kdc.realm}`, "Passw0rd!").serviceTicket("HTTP/nope.nmslite.test"),
    );
    assertEquals(err.problem, "unknown_service");
    assert(err.message.startsWith("SPN unknown"), err.message);
  });

  await t.step("expired password: KDC_ERR_KEY_EXPIRED", async () => {
    await kdc.addPrincipal("old", "Old-pass1", { pwExpired: true });
    const err = await problem(client(`old@${kdc.realm}`, "Old-pass1").serviceTicket(SPN));
    assertEquals(err.problem, "password_expired");
    assertEquals(err.code, 23);
  });

  await t.step("locked account: KDC_ERR_CLIENT_REVOKED", async () => {
    await kdc.addPrincipal("carol", "Carol-pass1", { lockAfter: 1 });
    await problem(client(`carol@${kdc.realm}`, "bad").serviceTicket(SPN));
    const err = await problem(client(`carol@${kdc.realm}`, "Carol-pass1").serviceTicket(SPN));
    assertEquals(err.problem, "locked");
    assertEquals(err.code, 18);
  });

  await t.step("clock skewed by 10 minutes: KRB_AP_ERR_SKEW", async () => {
    const c = client(`alice@${kdc.realm}`, "Passw0rd!", { now: () => Date.now() + 600_000 });
    const err = await problem(c.serviceTicket(SPN));
    assertEquals(err.problem, "clock_skew");
    assertEquals(err.code, 37);
    assert(/ahead of/.test(err.message), err.message);
  });

  await t.step("RC4-only account: refused by default, works with allowRc4", async () => {
    await kdc.addPrincipal("legacy", "Legacy-pass1", { enctypes: ["rc4-hmac"] });
    const failed = async () =>
      (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
    const before = await failed();
    const err = await problem(client(`legacy@${kdc.realm}`, "Legacy-pass1").serviceTicket(SPN));
    assertEquals(err.problem, "etype");
    assert(err.message.includes("kerberos.allow_rc4"), err.message);
    assertEquals(await failed(), before, "no guess that costs a failed pre-authentication");

    // allowed: the AS exchange runs on the RC4 key (MD4 string-to-key, RFC 4757 encryption);
    // (the account has no other key, so the AS-REP that decrypted was sealed with it); RC4
    // is offered last, and only in the AS-REQ: the service ticket still has an AES key
    const c = client(`legacy@${kdc.realm}`, "Legacy-pass1", { allowRc4: true });
    const st = await c.serviceTicket(SPN);
    assertEquals(st.sessionKey.etype, 18);
    assertEquals(c.stats, { asRequests: 2, asFailures: 0, tgsRequests: 1 });
    const keys = parseKeytab(await Deno.readFile(svc.keytabPath));
    decrypt(
      keytabKeyFor(keys, st.ticket.encPart.etype, st.ticket.encPart.kvno),
      USAGE.KDC_REP_TICKET,
      st.ticket.encPart.cipher,
    );
    const issued = (await kdc.requests()).filter((r) =>
      r.type === "AS_REQ" && r.outcome === "ISSUE" && r.client.startsWith("legacy@")
    );
    assertEquals(issued.length, 1);
    assertEquals(issued[0].etypes, [18, 17, 23]);
    const tgs = (await kdc.requests()).filter((r) =>
      r.type === "TGS_REQ" && r.client.startsWith("legacy@")
    );
    assert(tgs.length === 1 && !tgs[0].etypes.includes(23), JSON.stringify(tgs));

    // and a wrong RC4 password is one PREAUTH_FAILED, typed
    const before2 = await failed();
    const wrong = await problem(
      client(`legacy@${kdc.realm}`, "nope", { allowRc4: true }).serviceTicket(SPN),
    );
    assertEquals(wrong.problem, "wrong_password");
    assertEquals(await failed(), before2 + 1);
  });

  await t.step(
    "no KDC configured: found through DNS SRV (UDP record first, then TCP)",
    async () => {
      await using dns = await startDnsSrv({
        srv: {
          [`_kerberos._udp.${kdc.realm}`]: [{
            priority: 0,
            weight: 0,
            port: kdc.port,
            target: "kdc.nmslite.test",
          }],
          [`_kerberos._tcp.${kdc.realm}`]: [{
            priority: 0,
            weight: 0,
            port: kdc.port,
            target: "kdc.nmslite.test",
          }],
        },
        a: { "kdc.nmslite.test": [kdc.host] },
      });
      const c = new KerberosClient({
        principal: `alice@${kdc.realm}`,
        password: "Passw0rd!",
        nameServer: dns.nameServer,
      });
      const st = await c.serviceTicket(SPN);
      assertEquals(st.crealm, kdc.realm);
      assert(
        dns.queries.some((q) =>
          q.name.toLowerCase() === `_kerberos._tcp.${kdc.realm}`.toLowerCase() && q.type === "SRV"
        ),
      );
      assert(
        dns.queries.some((q) =>
          q.name.toLowerCase() === `_kerberos._udp.${kdc.realm}`.toLowerCase() && q.type === "SRV"
        ),
      );
      // no records: a clear error, not a hang
      dns.set({});
      const none = await problem(
        new KerberosClient({
          principal: `alice@${kdc.realm}`,
          password: "Passw0rd!",
          nameServer: dns.nameServer,
        })
          .serviceTicket(SPN),
      );
      assertEquals(none.problem, "kdc_unreachable");
      assert(none.message.includes("SRV"), none.message);
    },
  );

  await t.step("KDC down: no KDC reachable", async () => {
    await kdc.down();
    try {
      const err = await problem(
        client(`alice@${kdc.realm}`, "Passw0rd!", { kdcTimeoutMs: 300 }).serviceTicket(SPN),
      );
      assertEquals(err.problem, "kdc_unreachable");
      assert(err.message.includes(`${kdc.port}`), err.message);
    } finally {
      await kdc.up();
    }
  });
});

Deno.test("kerberos vs MIT KDC: UDP reply too big falls back to TCP; TCP-only and UDP-only KDCs", async (t) => {
  for (
    const [name, opts] of [
      ["reply too big over UDP", { maxDgramReplySize: 200 }],
      ["TCP only", { udp: false }],
      ["UDP only", { tcp: false }],
    ] as const
  ) {
    await t.step(name, async () => {
      await using kdc = await startKdc(opts);
      await kdc.addPrincipal("alice", "Passw0rd!");
      await kdc.addService(SPN);
      const c = new KerberosClient({
        principal: `alice@${kdc.realm}`,
        password: "Passw0rd!",
        kdcs: [`${kdc.host}:${kdc.port}`],
        kdcTimeoutMs: 500,
      });
      const st = await c.serviceTicket(SPN);
      assertEquals(st.ticket.sname.names.join("/"), SPN);
    });
  }
});
