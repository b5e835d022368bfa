/**
 * A `wmi` credential profile through the application (PGlite, the real API): the profile
 * defaults to port 135, the credential test identifies a simulated host over DCOM, discovery
 * probing only the RPC port identifies hosts over WMI, and the poller registry's
 * windows-winrm collector polls a `wmi` credential over DCOM. Plus `deno task wmi`.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";
import { startWinsim, type Winsim } from "../../winsim/mod.ts";
import { collectMetrics } from "../../lib/collectors/registry.ts";
import type { Credential } from "../../lib/messages.ts";
import { closeSharedWmiClients, sharedWmiClientCount } from "../../lib/wmi/mod.ts";

const PASSWORD = "App-Wmi-Passw0rd!";

async function withSim(fn: (sim: Winsim) => Promise<void>) {
  const sim = await startWinsim({
    hosts: 3,
    base: "127.0.173.1",
    httpPort: 0,
    httpsPort: null,
    rpcPort: 21135,
    password: PASSWORD,
  });
  try {
    await fn(sim);
  } finally {
    await closeSharedWmiClients();
    await sim.close();
  }
}

Deno.test({
  name: "wmi profile: credential test and discovery over DCOM with only the RPC port probed",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withSim(async (sim) => {
      const server = await startTestServer("pglite");
      try {
        const token = await server.login();
        const call = (method: string, path: string, body?: unknown) =>
          server.call(method, path, { token, body });
        const plain = await call("POST", "/credential-profiles", {
          name: "wmi default port",
          type: "wmi",
          username: "Administrator",
          password: PASSWORD,
        });
        assertEquals(plain.status, 201, JSON.stringify(plain.body));
        assertEquals(plain.body.data.port, 135);
        const cred = await call("POST", "/credential-profiles", {
          name: "wmi sim",
          type: "wmi",
          username: "Administrator",
          password: PASSWORD,
          port: 21135,
        });
        assertEquals(cred.status, 201);
        const id = cred.body.data.id;

        const test = await call("POST", `/credential-profiles/${id}/test`, { ip: sim.hosts[0].ip });
        assertEquals(test.status, 200, JSON.stringify(test.body));
        assertEquals(test.body.data.ok, true, JSON.stringify(test.body.data));
        assertEquals(test.body.data.identity.hostname, sim.hosts[0].name);
        assertMatch(test.body.data.identity.os, /Windows/);

        const bad = await call("POST", "/credential-profiles", {
          name: "wmi wrong",
          type: "wmi",
          username: "Administrator",
          password: "wrong",
          port: 21135,
        });
        const failed = await call("POST", `/credential-profiles/${bad.body.data.id}/test`, {
          ip: sim.hosts[1].ip,
        });
        assertEquals(failed.body.data.ok, false);
        assertEquals(failed.body.data.error.kind, "auth");

        const profile = await call("POST", "/discovery-profiles", {
          name: "wmi sim",
          credential_profile_id: id,
          target: "127.0.173.0/29",
          ports: [21135],
        });
        assertEquals(profile.status, 201, JSON.stringify(profile.body));
        const run = await call("POST", `/discovery-profiles/${profile.body.data.id}/run?wait=true`);
        assertEquals(run.status, 200, JSON.stringify(run.body));
        assertEquals(run.body.data.found, 3, JSON.stringify(run.body.data.run.unidentified));
        const names = run.body.data.devices.map((d: { hostname: string }) => d.hostname).sort();
        assertEquals(names, sim.hosts.map((h) => h.name).sort());
      } finally {
        await server.close();
      }
    }),
});

Deno.test({
  name: "the windows-winrm collector polls a wmi credential over DCOM on a kept client",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withSim(async (sim) => {
      const h = sim.hosts[2];
      const credential: Credential = {
        id: 9,
        type: "wmi",
        username: "Administrator",
        password: PASSWORD,
        domain: null,
        port: 21135,
        useSsl: false,
        tlsVerify: "system",
        tlsCaPem: null,
        allowUnencrypted: false,
        version: "1",
      };
      const job = { monitorId: 1, deviceId: 1, deviceIp: h.ip } as Parameters<
        typeof collectMetrics
      >[0];
      const plugin = { id: 1, name: "windows-winrm", type: "builtin" as const, config: {} };
      const conns = sim.stats(h.ip).connections;
      const httpBefore = sim.stats(h.ip).requests;
      for (let i = 0; i < 3; i++) {
        const sample = await collectMetrics(job, plugin, credential, AbortSignal.timeout(10_000));
        assert(typeof sample.cpuPercent === "number", JSON.stringify(sample));
        assert((sample.memoryTotal ?? 0) > 0);
      }
      assertEquals(sim.stats(h.ip).connections - conns, 2, "one activation, one kept connection");
      assertEquals(sim.stats(h.ip).requests, httpBefore, "no WinRM request");
      assertEquals(sharedWmiClientCount(), 1);
    }),
});

Deno.test({
  name: "deno task wmi prints JSON for --wql, --identify and --collect; errors as JSON",
  sanitizeResources: false,
  fn: () =>
    withSim(async (sim) => {
      const h = sim.hosts[0];
      const run = async (...extra: string[]) => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--allow-all",
            new URL("../../scripts/wmi.ts", import.meta.url).pathname,
            "--host",
            h.ip,
            "--port",
            "21135",
            "--user",
            "Administrator",
            "--password-env",
            "WMI_TEST_PW",
            ...extra,
          ],
          env: { WMI_TEST_PW: PASSWORD },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const dec = new TextDecoder();
        return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
      };
      const wql = await run(
        "--wql",
        "SELECT DeviceID, Size FROM Win32_LogicalDisk WHERE DriveType=3",
      );
      assertEquals(wql.code, 0, wql.err);
      const disks = JSON.parse(wql.out);
      assert(disks.length >= 1 && typeof disks[0].Size === "number", wql.out);
      const id = await run("--identify");
      assertEquals(JSON.parse(id.out).hostname, h.name);
      const doc = await run("--collect");
      assert(JSON.parse(doc.out).volumes.length >= 1);
      const bad = await run("--wql", "SELECT * FROM Win32_Nope");
      assertEquals(bad.code, 1);
      assertEquals(JSON.parse(bad.err).error.kind, "invalid_class");
      assert(!bad.err.includes(PASSWORD) && !doc.out.includes(PASSWORD));
      const usage = await run();
      assertEquals(usage.code, 2);
    }),
});
