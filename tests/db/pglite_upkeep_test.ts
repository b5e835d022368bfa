/**
 * The embedded database on disk: PGlite's mount that remembers file sizes answers what the
 * host would (checked against the files themselves after extension, truncation, a new
 * relfilenode and a reopen, with nothing lost), and the analyze upkeep that stands in for
 * autovacuum analyzes exactly the tables whose size moved since their statistics were taken.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { PGlite } from "@electric-sql/pglite";
import { SizeCachingNodeFS } from "../../lib/db/pglite_fs.ts";
import { openDatabase, PGLITE_PARSERS, pgliteDatabase } from "../../lib/db/driver.ts";
import { analyzeStale, staleTables } from "../../lib/db/pglite_upkeep.ts";
import { migrate } from "../../lib/db/migrate.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("PGlite's remembered file sizes match the files on disk", opts, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const open = async () => {
      const fs = new SizeCachingNodeFS(`${dir}/pglite`);
      const pg = await PGlite.create({ fs, parsers: PGLITE_PARSERS });
      return { fs, pg };
    };
    let { fs, pg } = await open();
    const sizes = async () => {
      const rows = (await pg.query<{ path: string; size: number }>(
        `SELECT pg_relation_filepath(c.oid) AS path, pg_relation_size(c.oid) AS size
           FROM pg_class c
          WHERE c.relname IN ('t', 't_pkey', 't_v') AND c.relkind IN ('r', 'i')`,
      )).rows;
      assertEquals(rows.length, 3);
      for (const r of rows) {
        // the host's answer: the one segment's size on disk
        const onDisk = (await Deno.stat(`${dir}/pglite/${r.path}`)).size;
        assertEquals(r.size, onDisk, r.path);
      }
      return rows.reduce((n, r) => n + r.size, 0);
    };
    await pg.exec("CREATE TABLE t (id serial PRIMARY KEY, v text); CREATE INDEX t_v ON t (v)");
    const empty = await sizes();
    await pg.exec(
      "INSERT INTO t (v) SELECT repeat(md5(i::text), 8) FROM generate_series(1, 5000) i",
    );
    await pg.exec("CHECKPOINT");
    const grown = await sizes();
    assert(grown > empty + 1_000_000, `grown ${grown}`);
    // VACUUM truncates the emptied tail of the table
    await pg.exec("DELETE FROM t WHERE id > 1000");
    await pg.exec("VACUUM t");
    const shrunk = await sizes();
    assert(shrunk < grown, `shrunk ${shrunk} of ${grown}`);
    // new rows go at the table's true end: had the truncation not been seen, they would go at
    // the old end, past a hole of zeroed pages that the host would then agree on
    await pg.exec("INSERT INTO t (v) SELECT 'again ' || i FROM generate_series(1, 3000) i");
    const again = await sizes();
    assert(again < grown, `again ${again} of ${grown}`);
    // TRUNCATE gives the table new files; the old ones go
    await pg.exec(
      "TRUNCATE t; INSERT INTO t (v) SELECT 'after ' || i FROM generate_series(1, 700) i",
    );
    await sizes();
    assert(fs.sizeCache.hits > 0, "sizes were answered from memory");
    assert(fs.sizeCache.misses > 0, "and asked of the host first");
    await pg.close();

    ({ fs, pg } = await open());
    assertEquals(
      (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM t")).rows[0].n,
      700,
    );
    await pg.exec("INSERT INTO t (v) SELECT 'reopened ' || i FROM generate_series(1, 2000) i");
    await sizes();
    assertEquals(
      (await pg.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE v LIKE 're%'")).rows[0]
        .n,
      2000,
    );
    await pg.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the embedded database analyzes the tables whose size moved", opts, async () => {
  const db = await openDatabase({ dataDir: "memory://" });
  try {
    await migrate(db);
    // analyze what migrations and seeding left, so only what this test does is stale
    await analyzeStale(db);
    assertEquals(await staleTables(db), []);
    const statsOf = async () =>
      (await db.query<{ tuples: number }>(
        "SELECT reltuples::int AS tuples FROM pg_class WHERE relname = 'devices'",
      ))[0].tuples;

    await db.query(
      `INSERT INTO devices (ip, hostname)
       SELECT ('10.8.' || (i / 250) || '.' || (i % 250 + 1))::inet, 'h-' || i
         FROM generate_series(0, 1999) i`,
    );
    assertEquals(await staleTables(db), ["public.devices"]);
    assertEquals(await analyzeStale(db), ["public.devices"]);
    assertEquals(await statsOf(), 2000);
    assertEquals(await staleTables(db), []);

    // a few more rows do not move the size by a fifth; updates in place keep it
    await db.query("INSERT INTO devices (ip) VALUES ('10.8.99.1'), ('10.8.99.2')");
    await db.query("UPDATE devices SET os = 'Windows' WHERE id % 50 = 0");
    assertEquals(await staleTables(db), []);

    // TRUNCATE starts the table afresh with no statistics: stale as soon as it holds a row
    await db.exec("TRUNCATE devices CASCADE");
    assertEquals(await staleTables(db), []);
    await db.query("INSERT INTO devices (ip) VALUES ('10.8.99.1'), ('10.8.99.2')");
    assertEquals(await staleTables(db), ["public.devices"]);
    await analyzeStale(db);
    assertEquals(await statsOf(), 2);
    assertEquals(await staleTables(db), []);
  } finally {
    await db.close();
  }
});

Deno.test(
  "PGlite databases given to the driver keep working without the upkeep",
  opts,
  async () => {
    // pgliteDatabase (a caller's own PGlite build) is not wrapped: close() still closes it
    const pg = await PGlite.create({ parsers: PGLITE_PARSERS });
    const db = pgliteDatabase(pg);
    assertEquals((await db.query<{ one: number }>("SELECT 1 AS one"))[0].one, 1);
    await db.close();
    assert(pg.closed);
  },
);

Deno.test("a data directory's embedded database opens in one process at a time", opts, async () => {
  const dataDir = await Deno.makeTempDir();
  try {
    const first = await openDatabase({ dataDir });
    await migrate(first);
    // another process (deno task migrate, as an operator would run it beside the server)
    const env: Record<string, string> = { ...Deno.env.toObject(), NMSLITE_DATA_DIR: dataDir };
    delete env.DATABASE_URL;
    const other = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/migrate.ts"],
      cwd: new URL("../..", import.meta.url),
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(other.stderr);
    assert(!other.success, "a second process must not open it");
    assertEquals(other.code, 1);
    assert(stderr.startsWith("nmslite migrate: the embedded database in "), stderr);
    assert(stderr.includes(`in use by another process (pid ${Deno.pid})`), stderr);
    assert(!stderr.includes("    at "), `no stack trace: ${stderr}`);
    // and in this process, a second open fails the same way, leaving the first untouched
    let refused = "";
    await openDatabase({ dataDir }).catch((e) => refused = (e as Error).message);
    assert(refused.includes("in use by another process"), refused);
    assertEquals((await first.query<{ one: number }>("SELECT 1 AS one"))[0].one, 1);
    await first.close();

    // closed, it opens again, with what the first wrote
    const again = await openDatabase({ dataDir });
    const n = await again.query<{ n: number }>("SELECT count(*)::int AS n FROM schema_migrations");
    assert(n[0].n > 0);
    await again.close();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
