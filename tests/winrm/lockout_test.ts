/**
 * Account lockout: how many failed logons one poll with a wrong password costs, counted by the
 * simulated host over real sockets. A domain locks an account after a few failed logons, so a
 * poll (and `deno task winrm --collect`) must cost at most one: one Basic request, or one NTLM
 * handshake. Pipelining resumes once the credentials were accepted on the connection.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { AuthenticationError } from "../../lib/winrm/mod.ts";
import { collect, identify } from "../../lib/collectors/windows_winrm.ts";
import { collectMetrics } from "../../lib/collectors/registry.ts";
import { Poller } from "../../lib/polling/poller.ts";
import type { Credential, PollOutcome } from "../../lib/messages.ts";
import { closeSharedPools } from "../../lib/winrm/mod.ts";
import { clientFor, MODES, using, withSim } from "./sim_helpers.ts";

const WRONG = "Wr0ng-Lockout-Pass";

for (const mode of MODES) {
  Deno.test(`${mode}: a poll with a wrong password costs one failed logon`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      await using(clientFor(sim, mode, { password: WRONG }), async (c) => {
        await assertRejects(() => collect(c), AuthenticationError);
        let s = sim.stats(ip);
        assertEquals(s.authFailures, 1, "one failed logon for the four queries of a poll");
        assertEquals(s.authHandshakes, 0);
        await assertRejects(() => identify(c), AuthenticationError);
        s = sim.stats(ip);
        assertEquals(s.authFailures, 2, "and one for identify's three queries");
        // an NTLM handshake is NEGOTIATE + AUTHENTICATE; Basic is the one request
        assertEquals(s.requests, mode.startsWith("ntlm") ? 4 : 2);
      });
    }));
}

Deno.test("basic-https: a fresh connection sends one request alone, then pipelines", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-https"), async (c) => {
      await collect(c);
      const first = sim.stats(ip);
      assertEquals(first.requests, 4);
      // the three after the first went out together once the first was answered
      assertEquals(c.stats().pipelined, 2, "the last three pipelined: two behind the second");
      assertEquals(c.stats().pipelining, "on");
      await collect(c);
      assertEquals(c.stats().opened, 1);
      assertEquals(c.stats().pipelined, 2 + 3, "the accepted connection pipelines all four");
      assert(sim.stats(ip).pipelinedRequests > first.pipelinedRequests);
      assertEquals(sim.stats(ip).authFailures, 0);
    });
  }));

Deno.test("a scheduled poll with retries on still costs one failed logon per mode", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const modes: [Credential["type"], boolean, number][] = [
      ["winrm_basic", true, h.httpsPort!],
      ["winrm_ntlm", false, h.httpPort],
      ["winrm_ntlm", true, h.httpsPort!],
    ];
    const outcomes: PollOutcome[] = [];
    const poller = new Poller({
      concurrency: 4,
      perHostLimit: 1,
      pollTimeoutMs: 10_000,
      retries: 2,
      backoffBaseMs: 1,
      getCredential: (id) => {
        const [type, useSsl, port] = modes[id - 1];
        return Promise.resolve({
          id,
          type,
          username: sim.username,
          password: WRONG,
          domain: null,
          port,
          useSsl,
          tlsVerify: "insecure",
          tlsCaPem: null,
          allowUnencrypted: false,
          version: "1",
        });
      },
      collect: collectMetrics,
      onSample: () => {},
      onOutcome: (o) => outcomes.push(o),
    });
    try {
      for (let id = 1; id <= modes.length; id++) {
        const before = sim.stats(h.ip).authFailures;
        poller.submit({
          monitorId: id,
          deviceId: 1,
          deviceIp: h.ip,
          credentialProfileId: id,
          pluginId: 1,
          dueAt: Date.now(),
          intervalS: 60,
        }, { id: 1, name: "windows-winrm", type: "builtin", config: {} });
        await poller.idle();
        assertEquals(sim.stats(h.ip).authFailures - before, 1, `${modes[id - 1]}`);
      }
      assertEquals(outcomes.length, modes.length);
      assert(outcomes.every((o) => !o.ok && o.errorKind === "auth"), JSON.stringify(outcomes));
    } finally {
      poller.stop();
      closeSharedPools();
    }
  }));
