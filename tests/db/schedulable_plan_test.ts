/**
 * The scheduler re-reads changed monitors by id, 1,000 at a time (lib/pipeline/pipeline.ts).
 * That read must be planned for the tables as they are: with autovacuum off nothing analyzes
 * them, and a prepared statement keeps a plan PostgreSQL settled on while they were small. In
 * bench:fleet at 100,000 hosts such a statement ran ~60 s a batch (pg_stat_activity), so a bulk
 * enable never reached the scheduler. Here: no cached plan, and primary-key look-ups.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { postgresSessionTest } from "../helpers/databases.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { monitorsRepo } from "../../lib/db/monitors.ts";
import type { Queryable } from "../../lib/db/driver.ts";

// one connection: the statements prepared below are the ones read at the end
postgresSessionTest(
  "postgres: monitors re-read by id stay primary-key look-ups as the tables grow unanalyzed",
  async (db) => {
    await migrate(db);
    await db.exec(`ALTER TABLE devices SET (autovacuum_enabled = false);
    ALTER TABLE monitors SET (autovacuum_enabled = false)`);
    const [{ id: cred }] = await db.query<{ id: number }>(
      `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('c', 'winrm_ntlm', 'u', 'x', 5985) RETURNING id`,
    );
    const [{ id: plugin }] = await db.query<{ id: number }>(
      "SELECT id FROM plugins ORDER BY id LIMIT 1",
    );
    const grow = async (from: number, to: number) => {
      await db.query(
        `INSERT INTO devices (ip, hostname, status, site_id)
       SELECT '10.0.0.0'::inet + g, 'h' || g,
         CASE WHEN g % 7 = 0 THEN 'unreachable' ELSE 'monitoring' END, 1
       FROM generate_series($1::int, $2::int) g`,
        [from, to],
      );
      await db.query(
        `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval,
         enabled)
       SELECT d.id, $1, $2, 60, d.id % 5 <> 0 FROM devices d
       WHERE host(d.ip)::inet - '10.0.0.0'::inet BETWEEN $3 AND $4`,
        [cred, plugin, from, to],
      );
    };
    await grow(1, 20);
    const small = (await db.query<{ id: number }>("SELECT id FROM monitors")).map((r) => r.id);
    // run while the tables are tiny, often enough for a prepared statement's plan to settle
    for (let i = 0; i < 8; i++) {
      await monitorsRepo.schedulableMany(db, small);
      await monitorsRepo.sitesOf(db, small);
    }
    await grow(21, 30_000);

    const ids = (await db.query<{ id: number }>(
      "SELECT id FROM monitors WHERE id % 3 = 0 ORDER BY id LIMIT 1000",
    )).map((r) => r.id);
    assertEquals(ids.length, 1000);
    const got = (await monitorsRepo.schedulableMany(db, [...ids, 99_999_999]))
      .map((m) => m.monitorId).sort((a, b) => a - b);
    const want = (await db.query<{ id: number }>(
      `SELECT m.id FROM monitors m JOIN devices d ON d.id = m.device_id
     WHERE m.id = ANY($1::int[]) AND m.enabled AND d.status = 'monitoring' ORDER BY m.id`,
      [ids],
      { prepare: false },
    )).map((r) => r.id);
    assert(want.length > 500 && want.length < 1000, `a mix: ${want.length} of 1000`);
    assertEquals(got, want, "enabled monitors of polled devices, unknown ids absent");
    assertEquals((await monitorsRepo.sitesOf(db, ids)).length, 1000);

    // no plan of them is cached in the session (a prepared statement would keep one)...
    const cached = await db.query<{ statement: string }>(
      `SELECT statement FROM pg_prepared_statements
     WHERE statement LIKE '%FROM monitors m JOIN devices d%'
       AND (statement LIKE '%wanted%' OR statement LIKE '%ANY(%')`,
    );
    assertEquals(cached, []);
    // ...and planned now, each id is a look-up in both primary keys
    const texts: { text: string; params: readonly unknown[] }[] = [];
    const recorder: Queryable = {
      query: (text, params, opts) => {
        texts.push({ text, params: params ?? [] });
        return db.query(text, params, opts);
      },
      exec: (text) => db.exec(text),
      copyCsv: (t, c, csv) => db.copyCsv(t, c, csv),
    };
    await monitorsRepo.schedulableMany(recorder, ids);
    await monitorsRepo.sitesOf(recorder, ids);
    assertEquals(texts.length, 2);
    for (const { text, params } of texts) {
      const plan = (await db.query<{ "QUERY PLAN": string }>(`EXPLAIN ${text}`, params, {
        prepare: false,
      })).map((r) => r["QUERY PLAN"]).join("\n");
      assert(!/Seq Scan on (monitors|devices)/.test(plan), plan);
      assert(/Index Scan using monitors_pkey/.test(plan), plan);
      assert(/Index Scan using devices_pkey/.test(plan), plan);
    }
  },
);
