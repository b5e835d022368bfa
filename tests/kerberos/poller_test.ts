/**
 * Kerberos through the poller as a scheduled poll runs it (lib/polling/poller.ts with the
 * built-in collector): the SPN comes from the job's device host name, a good password
 * yields samples, and a wrong one with retries on costs the account exactly one failed
 * pre-authentication per poll at the real MIT KDC.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startKdc } from "../helpers/kdc.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { collectMetrics } from "../../lib/collectors/registry.ts";
import { Poller } from "../../lib/polling/poller.ts";
import type { Credential, PollOutcome } from "../../lib/messages.ts";
import { closeSharedPools } from "../../lib/winrm/mod.ts";

const HOST = "win-09.nmslite.test";

Deno.test("scheduled Kerberos polls: samples, and one failed pre-authentication per poll", async () => {
  await using kdc = await startKdc();
  await kdc.addPrincipal("alice", "Passw0rd!");
  const svc = await kdc.addService(`HTTP/${HOST}`);
  const sim = await startWinsim({
    hosts: 1,
    base: "127.0.49.1",
    username: "alice",
    httpPort: 0,
    httpsPort: null,
    allowUnencrypted: false,
    kerberos: { keytab: await Deno.readFile(svc.keytabPath) },
  });
  const h = sim.hosts[0];
  const passwords: Record<number, string> = { 1: "Passw0rd!", 2: "Wr0ng-pass" };
  const outcomes: PollOutcome[] = [];
  let samples = 0;
  const poller = new Poller({
    concurrency: 2,
    perHostLimit: 1,
    pollTimeoutMs: 15_000,
    retries: 2,
    backoffBaseMs: 1,
    getCredential: (id): Promise<Credential> =>
      Promise.resolve({
        id,
        type: "winrm_kerberos",
        username: `alice@${kdc.realm}`,
        password: passwords[id],
        domain: null,
        port: h.httpPort,
        useSsl: false,
        tlsVerify: "system",
        tlsCaPem: null,
        allowUnencrypted: false,
        kerberosRealm: kdc.realm,
        kerberosKdcs: [`${kdc.host}:${kdc.port}`],
        kerberosSpn: null,
        version: "1",
      }),
    collect: collectMetrics,
    onSample: () => samples++,
    onOutcome: (o) => outcomes.push(o),
  });
  const poll = async (credentialProfileId: number) => {
    poller.submit({
      monitorId: credentialProfileId,
      deviceId: 1,
      deviceIp: h.ip,
      deviceHostname: HOST,
      credentialProfileId,
      pluginId: 1,
      dueAt: Date.now(),
      intervalS: 60,
    }, { id: 1, name: "windows-winrm", type: "builtin", config: {} });
    await poller.idle();
  };
  const failed = async () =>
    (await kdc.requests()).filter((r) => r.outcome === "PREAUTH_FAILED").length;
  try {
    await poll(1);
    assertEquals(outcomes.at(-1)?.ok, true, JSON.stringify(outcomes.at(-1)));
    assertEquals(samples, 1);
    assert(sim.stats(h.ip).sealedMessages >= 4, "the poll's queries went sealed");

    for (let n = 1; n <= 2; n++) {
      const before = await failed();
      await poll(2);
      const o = outcomes.at(-1)!;
      assertEquals(o.ok, false);
      assertEquals(o.errorKind, "auth");
      assertEquals(o.attempts, 1, "an authentication failure is not retried");
      assert(/rejected the password/.test(o.error ?? ""), o.error);
      assertEquals(await failed() - before, 1, `poll ${n}: one failed pre-authentication`);
    }
  } finally {
    poller.stop();
    closeSharedPools();
    await sim.close();
  }
});
