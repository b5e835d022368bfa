/**
 * More simulated hosts than file descriptors: NMSlite (main.ts, its own process) runs under
 * `ulimit -n 256` and monitors 400 simulated Windows hosts every 10 s. Kept-alive WinRM
 * connections for all of them would need 400 descriptors, so the descriptor budget must
 * close idle connections and open new ones as polls need them. The test asserts behaviour,
 * not speed: every monitor is polled, and polled again; no poll fails for want of local
 * resources; the process never reaches its limit; and the API answers every request made on
 * a new connection (GET /health, GET /api/v1/devices) while polling runs. On PostgreSQL the API
 * is the default HTTPS listener (each of those requests shakes hands anew), on the embedded
 * database plain HTTP.
 *
 * local_resource failures must be exactly 0, from the first poll on, with no warm-up grace:
 * the budget is sized before the first connection opens, and an EMFILE on connect is
 * retried after closing idle connections (lib/winrm/pool.ts), so a single one would mean
 * the budget is wrong. Other classes (a timeout on a busy machine) are reported, not failed.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, createScratchDatabase, type ScratchDatabase } from "../helpers/databases.ts";
import { startChildServer } from "../../scripts/child_server.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { login, seedFleet } from "../../bench/fleet_seed.ts";
import { parseProm, value } from "../../bench/fleet_metrics.ts";
import { freshClient } from "../../bench/fleet_probe.ts";

const HOSTS = 400;
const LIMIT = 256;
const PASSWORD = "Sim-Passw0rd!fd";
const HTTP_PORT = 25995;

for (const backend of backends()) {
  const https = backend === "postgres";
  Deno.test({
    name: `${HOSTS} hosts under ulimit -n ${LIMIT}: all polled, none for want of descriptors, ` +
      `the API answers throughout (${backend}, ${https ? "HTTPS" : "plain HTTP"})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const base = backend === "pglite" ? "127.0.52.1" : "127.0.56.1";
      const sim = await startWinsim({
        hosts: HOSTS,
        base,
        password: PASSWORD,
        httpPort: HTTP_PORT,
        httpsPort: null,
      });
      let scratch: ScratchDatabase | undefined;
      if (backend === "postgres") scratch = await createScratchDatabase();
      const server = await startChildServer({
        databaseUrl: scratch?.url,
        logLevel: "info",
        nofile: LIMIT,
        https,
        env: { NMSLITE_POLLERS: "2", NMSLITE_POLL_TIMEOUT: "30s", DENO_NO_UPDATE_CHECK: "1" },
      });
      // every API request on a new connection: the listener must still accept
      const fresh = freshClient(server.caCert);
      const kept = Deno.createHttpClient(server.caCert ? { caCerts: [server.caCert] } : {});
      try {
        const limits = await Deno.readTextFile(`/proc/${server.pid}/limits`);
        assert(
          new RegExp(`Max open files\\s+${LIMIT}\\s+${LIMIT}\\s`).test(limits),
          `the server runs under the low limit: ${limits.match(/Max open files.*/)?.[0]}`,
        );
        assertEquals(server.url.startsWith("https:"), https);
        const session = await login(server, kept);
        const seeded = await seedFleet(session, {
          hosts: sim.hosts.map((h) => h.ip),
          intervalSeconds: 10,
          auth: "ntlm",
          username: sim.username,
          password: PASSWORD,
          concurrency: 8,
          port: HTTP_PORT,
        });
        assertEquals(seeded.monitorIds.length, HOSTS);

        const apiFailures: string[] = [];
        let apiOk = 0;
        let peakFds = 0;
        /** the pollers' load averaged over their report interval, as /metrics gave it */
        const averages: number[] = [];
        /** ... and integrated over time (a counter, poll-seconds) */
        const integrals: number[] = [];
        const ask = async (what: string, path: string) => {
          try {
            const res = await fetch(`${server.url}${path}`, {
              client: fresh,
              headers: { authorization: `Bearer ${session.token}` },
              signal: AbortSignal.timeout(30_000),
            });
            await res.arrayBuffer();
            if (res.status === 200) apiOk++;
            else apiFailures.push(`${what}: HTTP ${res.status}`);
          } catch (err) {
            apiFailures.push(`${what}: ${(err as Error).message}`);
          }
        };
        const lastPolled = async (): Promise<Map<number, string | null>> => {
          const out = new Map<number, string | null>();
          for (let offset = 0; offset < HOSTS; offset += 500) {
            const res = await session.call("GET", `/monitors?limit=500&offset=${offset}`);
            assertEquals(res.status, 200);
            for (const m of res.json.data) out.set(m.id, m.last_polled);
          }
          return out;
        };

        // phase 1: every monitor polled at least once; phase 2: every one polled again
        let first: Map<number, string | null> | undefined;
        let again = false;
        const deadline = Date.now() + 300_000; // a guard against hanging, not a speed target
        while (!again && Date.now() < deadline) {
          await ask("GET /health", "/health");
          await ask("GET /api/v1/devices", "/api/v1/devices?limit=50");
          const scraped = parseProm(
            await (await fetch(`${server.url}/metrics`, { client: fresh })).text(),
          );
          averages.push(scraped.get("nmslite_poller_saturation_average") ?? NaN);
          integrals.push(scraped.get("nmslite_poller_load_seconds_total") ?? NaN);
          const fds = [...Deno.readDirSync(`/proc/${server.pid}/fd`)].length;
          peakFds = Math.max(peakFds, fds);
          const now = await lastPolled();
          if (!first) {
            if ([...now.values()].every((t) => t !== null)) first = now;
          } else {
            again = [...now].every(([id, t]) => t !== null && t > first!.get(id)!);
          }
          await new Promise((r) => setTimeout(r, 500));
        }
        const metrics = parseProm(
          await (await fetch(`${server.url}/metrics`, { client: kept })).text(),
        );
        const failedBy = [...metrics].filter(([k]) => k.startsWith("nmslite_polls_failed_total"))
          .map(([k, v]) => `${k.slice(k.indexOf("{"))} ${v}`).join(", ");
        assert(first, `every monitor polled once (failed polls: ${failedBy})`);
        assert(again, `every monitor polled again (failed polls: ${failedBy})`);
        assertEquals(
          value(metrics, "nmslite_polls_failed_total", 'class="local_resource"'),
          0,
          `no poll failed for want of descriptors (${failedBy})`,
        );
        // planned, not recovered: no WinRM connect met EMFILE (the pool would retry after one)
        assert(metrics.has("nmslite_winrm_descriptors_exhausted_total"));
        assertEquals(value(metrics, "nmslite_winrm_descriptors_exhausted_total"), 0);
        assertEquals(apiFailures, [], "the API answered every request");
        assert(apiOk > 0);
        assert(peakFds < LIMIT, `the server stayed below its limit: ${peakFds} of ${LIMIT}`);
        // the Workers report their load averaged over time: there, and above 0 once polls ran
        // through a report interval (5 s; the polls here go on for two 10 s rounds)
        assert(
          averages.every((a) => a >= 0 && a <= 5),
          `average load within 0 and (concurrency + queue) / concurrency: ${averages}`,
        );
        assert(Math.max(...averages) > 0, `a load averaged over polls: ${averages}`);
        assert(
          integrals.every((v, i) => v >= 0 && (i === 0 || v >= integrals[i - 1])),
          `the load integral only grows: ${integrals}`,
        );
        assert(
          integrals[integrals.length - 1] > 0,
          `the load integral counted polls: ${integrals}`,
        );
        // the budget was binding: connections were closed and later ones opened anew (with
        // one kept-alive connection per host the simulator would have seen HOSTS of them)
        assert(
          sim.totals().connections > HOSTS,
          `connections closed and reopened within the budget: ${sim.totals().connections}`,
        );
        const log = await Deno.readTextFile(server.logPath);
        assert(/open files: soft limit 256, hard limit 256/.test(log), "the limit is logged");
        assert(/per poller Worker/.test(log), "the budget is logged");
      } finally {
        fresh.close();
        kept.close();
        await server.stop();
        await sim.close();
        await scratch?.drop();
      }
    },
  });
}
