/**
 * Killing NMSlite mid-batch loses and duplicates nothing: result batches already in the Deno
 * KV queue are committed by a real `main.ts` process, which is SIGKILLed while it commits;
 * after a restart every row is there exactly once. KV redelivers what was being handled
 * (it does so about a minute after the kill), and the insert is idempotent on (monitor_id, ts).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, createScratchDatabase } from "../helpers/databases.ts";
import { SEED_MASTER_KEY, seedMonitors } from "../helpers/seed.ts";
import { openDatabase } from "../../lib/db/driver.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { openResultsQueue, packBatches } from "../../lib/queue/results_queue.ts";
import type { MetricSample } from "../../lib/messages.ts";
import { freePort } from "../../scripts/child_server.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const MONITORS = 50;
const SAMPLES_PER_MONITOR = 2_000;

type Main = Deno.ChildProcess & { port: number; assertAlive(): void };

function startMain(dataDir: string, databaseUrl?: string): Main {
  const port = freePort();
  // Nothing of the caller's NMSLITE_* or DATABASE_URL: the PGlite run must not go to a
  // PostgreSQL a developer's shell names.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("NMSLITE_") && k !== "DATABASE_URL") env[k] = v;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "main.ts", "--plain-http", "--port", String(port)],
    cwd: ROOT,
    clearEnv: true,
    env: {
      ...env,
      NMSLITE_DATA_DIR: dataDir,
      NMSLITE_ADMIN_PASSWORD: "crash-test-admin",
      NMSLITE_MASTER_KEY: SEED_MASTER_KEY,
      NMSLITE_LOG_LEVEL: "error",
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Keep the tail of stderr: if main.ts dies, the test says why instead of timing out.
  const tail: string[] = [];
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      tail.push(chunk);
      if (tail.length > 20) tail.shift();
    }
  })().catch(() => {});
  let exited = false;
  child.status.then(() => exited = true);
  return Object.assign(child, {
    port,
    assertAlive() {
      if (exited) throw new Error(`main.ts exited:\n${tail.join("")}`);
    },
  });
}

/** Guards are generous: a loaded 2-core machine starts main.ts slowly; none is a timing check. */
async function waitHealthy(child: Main): Promise<void> {
  for (let i = 0; i < 3_000; i++) {
    child.assertAlive();
    try {
      const res = await fetch(`http://127.0.0.1:${child.port}/health`);
      await res.body?.cancel();
      if (res.ok) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("main.ts did not come up");
}

for (const backend of backends()) {
  Deno.test({
    name: `crash: SIGKILL while the writer commits loses and duplicates nothing (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const dataDir = await Deno.makeTempDir({ prefix: "nmslite-crash-" });
      const scratch = backend === "postgres" ? await createScratchDatabase() : undefined;
      let db = await openDatabase({ url: scratch?.url, dataDir });
      let child: Main | undefined;
      try {
        await migrate(db);
        const monitors = await seedMonitors(db, MONITORS);
        if (!scratch) await db.close(); // PGlite: one process owns the data directory

        // What pollers would have enqueued: every sample is durable from here on.
        const start = Date.now() - SAMPLES_PER_MONITOR * 60_000;
        const samples: MetricSample[] = [];
        for (let i = 0; i < SAMPLES_PER_MONITOR; i++) {
          for (const monitorId of monitors) {
            samples.push({
              monitorId,
              ts: start + i * 60_000,
              cpuPercent: i % 100,
              memoryTotal: 8 << 30,
              memoryUsed: 4 << 30,
              diskTotal: null,
              diskUsed: null,
              netSentBps: 1,
              netRecvBps: 2,
              netPacketsSent: null,
              netPacketsRecv: null,
              netErrors: null,
              netDiscards: null,
              netUtilization: null,
              processCount: 100,
              collectionMs: 5,
              volumes: null,
              interfaces: null,
            });
          }
        }
        const queue = await openResultsQueue(`${dataDir}/queue.kv`);
        for (const batch of packBatches(samples, [])) await queue.enqueue(batch);
        queue.close();

        const count = async (): Promise<number> => {
          const probe = scratch ? db : await openDatabase({ dataDir });
          try {
            return (await probe.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics"))[0]
              .n;
          } finally {
            if (!scratch) await probe.close();
          }
        };

        child = startMain(dataDir, scratch?.url);
        if (scratch) {
          // Kill as soon as the first rows are in: the rest is being committed right now.
          let seen = 0;
          for (let i = 0; i < 6_000 && seen === 0; i++) {
            child.assertAlive();
            await new Promise((r) => setTimeout(r, 50));
            seen = await count();
          }
          assert(seen > 0, "the writer committed something before the kill");
        } else {
          // PGlite cannot be read while main.ts holds it: kill a moment after it is up (the
          // queue listener starts before HTTP does, so commits are under way by then).
          await waitHealthy(child);
          await new Promise((r) => setTimeout(r, 1_000));
        }
        child.kill("SIGKILL");
        await child.status;
        const atKill = await count();
        assert(atKill < samples.length, `killed mid-way (${atKill} of ${samples.length} rows)`);

        child = startMain(dataDir, scratch?.url);
        // KV hands the messages that were being handled at the kill out again about a minute
        // later; what the dead process had committed comes back as duplicates and is skipped.
        const deadline = Date.now() + 360_000;
        let rows = 0;
        if (scratch) {
          while (Date.now() < deadline && (rows = await count()) < samples.length) {
            child.assertAlive();
            await new Promise((r) => setTimeout(r, 1_000));
          }
        } else {
          await waitHealthy(child);
          const inserted = async () => {
            const text = await (await fetch(`http://127.0.0.1:${child!.port}/metrics`)).text();
            return Number(/nmslite_writer_rows_total\{result="inserted"\} (\d+)/.exec(text)?.[1]);
          };
          while (Date.now() < deadline && await inserted() < samples.length - atKill) {
            await new Promise((r) => setTimeout(r, 1_000));
          }
          child.kill("SIGTERM");
          await child.status;
          rows = await count();
        }
        assertEquals(rows, samples.length, "every enqueued sample committed");
        if (!scratch) db = await openDatabase({ dataDir });
        const [{ dupes }] = await db.query<{ dupes: number }>(
          `SELECT count(*)::int AS dupes FROM (SELECT monitor_id, ts FROM metrics
             GROUP BY 1, 2 HAVING count(*) > 1) d`,
        );
        assertEquals(dupes, 0);
      } finally {
        try {
          child?.kill("SIGKILL");
        } catch { /* already gone */ }
        await child?.status;
        await db.close().catch(() => {});
        await scratch?.drop();
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      }
    },
  });
}
