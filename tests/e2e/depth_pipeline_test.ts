/**
 * The full collection profile through the real pipeline (scheduler and poller Workers, the
 * KV hand-off, the writer, the health monitor) against simulated hosts: services, processes
 * and the event log land in their tables, a reboot becomes a device event, and a host that
 * lacks one class and refuses another gives partial results without hurting its health.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";
import { freePort } from "../helpers/ports.ts";
import { startWinsim } from "../../winsim/mod.ts";

const PASSWORD = "Depth-Passw0rd!";

async function eventually<T>(what: string, check: () => Promise<T | undefined | null | false>) {
  const deadline = Date.now() + 90_000;
  while (true) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

for (const backend of backends()) {
  Deno.test({
    name:
      `full profile end to end: detail stored, reboot event, partial host stays healthy (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const port = await freePort();
      const base = backend === "pglite" ? "127.0.22" : "127.0.23";
      const sim = await startWinsim({
        hosts: 2,
        base: `${base}.1`,
        password: PASSWORD,
        httpPort: port,
        httpsPort: null,
      });
      const [healthy, partial] = sim.hosts;
      sim.setFault(partial.ip, {
        kind: "missing-class",
        classes: [
          "Win32_PerfFormattedData_PerfProc_Process",
          "Win32_PerfFormattedData_PerfDisk_PhysicalDisk",
        ],
      });
      sim.eventFlood(healthy.ip, Date.now() - 5_000);
      const server = await startTestServer(backend, {
        NMSLITE_POLL_RETRIES: "0",
        NMSLITE_POLL_TIMEOUT: "5s",
        NMSLITE_HEALTH_FAILURE_THRESHOLD: "2",
        NMSLITE_HEALTH_FAILURE_WINDOW: "60s",
      }, { pipeline: true });
      try {
        const token = await server.login();
        const call = (method: string, path: string, body?: unknown) =>
          server.call(method, path, { token, body });
        const cred = await call("POST", "/credential-profiles", {
          name: "sim",
          type: "winrm_ntlm",
          username: "Administrator",
          password: PASSWORD,
          port,
        });
        const ids: Record<string, { device: number; monitor: number }> = {};
        for (const h of sim.hosts) {
          const device = (await call("POST", "/devices", { ip: h.ip })).body.data.id;
          const m = await call("POST", "/monitors", {
            device_id: device,
            credential_profile_id: cred.body.data.id,
            plugin_id: 1,
            polling_interval: 10,
            config: { profile: "full", top_processes: 5, max_events: 100 },
          });
          assertEquals(m.status, 201, JSON.stringify(m.body));
          ids[h.ip] = { device, monitor: m.body.data.id };
        }
        const h = ids[healthy.ip];
        const p = ids[partial.ip];

        const services = await eventually("services of the healthy host", async () => {
          const r = await call("GET", `/devices/${h.device}/services?start_mode=Auto`);
          return r.body.data.services.length ? r.body.data.services : null;
        });
        assert(services.some((s: { name: string }) => s.name === "WinRM"));
        const procs = await call("GET", `/devices/${h.device}/processes`);
        assert(procs.body.data.processes.length >= 5);
        const flood = await eventually("the flood in the event log", async () => {
          const r = await call("GET", `/devices/${h.device}/events?source=Application%20Error`);
          return r.body.meta.total >= 20 ? r.body : null;
        });
        assertEquals(flood.data[0].event_id, 1000);

        // The partial host: polls succeed, the missing parts are named, its health is intact
        const latest = await eventually("a sample of the partial host", async () => {
          const r = await call("GET", `/monitors/${p.monitor}/metrics`);
          return r.body.data.sample;
        });
        assertEquals(
          latest.partial.map((x: { part: string }) => x.part).sort(),
          ["physical_disks", "processes"],
        );
        assert(latest.cpu_cores.length > 0 && latest.uptime_s > 0);
        const fallback = await call("GET", `/devices/${p.device}/processes`);
        assert(
          fallback.body.data.processes.every((x: { cpu_percent: null }) => x.cpu_percent === null),
        );
        const monitor = await call("GET", `/monitors/${p.monitor}`);
        assertEquals(monitor.body.data.consecutive_failures, 0);
        assertEquals(monitor.body.data.last_error, null);
        assertEquals((await call("GET", `/devices/${p.device}`)).body.data.status, "monitoring");

        // A reboot of the healthy host becomes one device event
        sim.reboot(healthy.ip);
        const reboot = await eventually("a reboot device event", async () => {
          const r = await call("GET", `/devices/${h.device}/device-events?kind=reboot`);
          return r.body.data.length ? r.body.data : null;
        });
        assertEquals(reboot.length, 1);
        assertEquals(reboot[0].monitor_id, h.monitor);
      } finally {
        await server.close();
        await sim.close();
      }
    },
  });
}
