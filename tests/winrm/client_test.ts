/**
 * WinRM client against the simulated Windows hosts (winsim) on loopback: every auth
 * mode, bad passwords, TLS verification modes, connection reuse.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import {
  AuthenticationError,
  ConfigError,
  ConnectionError,
  numProp,
  TlsError,
  WinrmClient,
} from "../../lib/winrm/mod.ts";
import { freePort } from "../helpers/ports.ts";
import { clientFor, MODES, PASSWORD, using, withSim } from "./sim_helpers.ts";

for (const mode of MODES) {
  Deno.test(`${mode}: WQL over one authenticated connection`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      await using(clientFor(sim, mode), async (c) => {
        const os = await c.enumerate("SELECT * FROM Win32_OperatingSystem");
        assertEquals(os.length, 1);
        assert(numProp(os[0], "TotalVisibleMemorySize")! > 0);
        const cpu = await c.enumerate(
          "SELECT PercentProcessorTime FROM Win32_PerfFormattedData_PerfOS_Processor WHERE Name='_Total'",
        );
        assertEquals(cpu.length, 1);
        const disk = await c.get("Win32_LogicalDisk", { DeviceID: "C:" });
        assertEquals(disk.DeviceID, "C:");
        const stats = c.stats();
        assertEquals(stats.opened, 1, "one TCP connection");
        assertEquals(stats.handshakes, mode.startsWith("ntlm") ? 1 : 0);
        const server = sim.stats(ip);
        assertEquals(server.connections, 1);
        assertEquals(server.authHandshakes, mode.startsWith("ntlm") ? 1 : 0);
        assertEquals(server.authFailures, 0);
      });
    }));
}

Deno.test("NTLM accepts DOMAIN\\user, user@domain and a separate domain", () =>
  withSim(async (sim) => {
    for (
      const [username, domain] of [
        [`CORP\\${sim.username}`, null],
        [`${sim.username}@corp.example.com`, null],
        [sim.username, "CORP"],
      ] as const
    ) {
      for (const mode of ["ntlm-http", "ntlm-https"] as const) {
        await using(clientFor(sim, mode, { username, domain }), async (c) => {
          assertEquals((await c.enumerate("SELECT Name FROM Win32_ComputerSystem")).length, 1);
        });
      }
    }
  }));

for (const mode of MODES) {
  Deno.test(`${mode}: a wrong password is an AuthenticationError after one attempt`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      const wrong = "Wr0ng-Password-42";
      await using(clientFor(sim, mode, { password: wrong }), async (c) => {
        const err = await assertRejects(
          () => c.enumerate("SELECT * FROM Win32_OperatingSystem"),
          AuthenticationError,
          "rejected the user name or password",
        );
        assertEquals((err as AuthenticationError).kind, "auth");
        const server = sim.stats(ip);
        assertEquals(server.authFailures, 1, "exactly one failed attempt");
        assertEquals(server.connections, 1);
        // nothing that may be logged or serialised carries the password
        for (const text of [err.message, String(err), JSON.stringify(err), err.stack ?? ""]) {
          assert(!text.includes(wrong), `password leaked in ${text}`);
          assert(!text.includes(PASSWORD));
        }
        assert(!JSON.stringify(c).includes(wrong), "client serialises without the password");
      });
    }));
}

Deno.test("Basic over HTTP without allowUnencrypted is refused before connecting", () =>
  withSim((sim) => {
    const h = sim.hosts[0];
    let err: unknown;
    try {
      clientFor(sim, "basic-http", { allowUnencrypted: false });
    } catch (e) {
      err = e;
    }
    assert(err instanceof ConfigError, `expected ConfigError, got ${err}`);
    assert((err as Error).message.includes("clear text"));
    assertEquals(sim.stats(h.ip).connections, 0);
    return Promise.resolve();
  }));

Deno.test("TLS: system CAs reject the self-signed cert; pinned and insecure work", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    for (const mode of ["basic-https", "ntlm-https"] as const) {
      await using(clientFor(sim, mode, { tls: { verify: "system" } }), async (c) => {
        const err = await assertRejects(() => c.enumerate("SELECT * FROM Win32_BIOS"), TlsError);
        assertEquals((err as TlsError).problem, "self-signed");
        assert(err.message.includes("self-signed"));
      });
    }
    assertEquals(sim.stats(ip).requests, 0, "nothing sent to an unverified server");
    for (const verify of ["pinned", "insecure"] as const) {
      for (const mode of ["basic-https", "ntlm-https"] as const) {
        const tls = verify === "pinned" ? { verify, caPem: sim.certificatePem } : { verify };
        await using(clientFor(sim, mode, { tls }), async (c) => {
          assertEquals((await c.enumerate("SELECT * FROM Win32_BIOS")).length, 1);
        });
      }
    }
  }));

Deno.test("a whole identify + collect-sized sequence reuses one connection", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      for (let i = 0; i < 20; i++) {
        await c.enumerate("SELECT Processes FROM Win32_PerfFormattedData_PerfOS_System");
      }
      assertEquals(c.stats().opened, 1);
      assertEquals(c.stats().reused, 19);
      assertEquals(sim.stats(ip).connections, 1);
      assertEquals(sim.stats(ip).authHandshakes, 1);
    });
  }));

Deno.test("connection refused is a ConnectionError", async () => {
  const port = await freePort();
  const c = new WinrmClient({
    host: "127.0.0.1",
    port,
    auth: "ntlm",
    username: "u",
    password: "p",
  });
  await using(c, async () => {
    const err = await assertRejects(() => c.enumerate("SELECT * FROM Win32_BIOS"), ConnectionError);
    assertEquals((err as ConnectionError).problem, "refused");
  });
});

Deno.test("idle connections expire from the pool", () =>
  withSim(async (sim) => {
    await using(clientFor(sim, "basic-http", { pool: { idleTimeoutMs: 100 } }), async (c) => {
      await c.enumerate("SELECT * FROM Win32_BIOS");
      assertEquals(c.stats().idle, 1);
      await new Promise((r) => setTimeout(r, 400));
      assertEquals(c.stats().idle, 0);
      await c.enumerate("SELECT * FROM Win32_BIOS");
      assertEquals(c.stats().opened, 2);
    });
  }));
