/**
 * PGlite's queries go through named prepared statements (lib/db/pglite_statements.ts): every
 * type comes back as PGlite's own `query()` gives it, a text is prepared once and then only
 * bound and executed, the cache stays at its bound with evicted statements closed on the
 * server, an error loses nothing and leaves the session usable, and a table altered under a
 * cached statement gets the statement prepared again.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { PGlite } from "@electric-sql/pglite";
import { isDatabaseUnavailable, PGLITE_PARSERS, pgliteDatabase } from "../../lib/db/driver.ts";
import { PgliteStatements } from "../../lib/db/pglite_statements.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** A fresh in-memory PGlite with a cache of 8 statements over it, closed after `fn`. */
async function withPglite(
  fn: (pg: PGlite, statements: PgliteStatements) => Promise<void>,
): Promise<PgliteStatements> {
  const pg = await PGlite.create({ parsers: PGLITE_PARSERS });
  const statements = new PgliteStatements(pg, 8);
  try {
    await fn(pg, statements);
  } finally {
    await pg.close();
  }
  return statements;
}

const preparedNames = async (pg: PGlite) =>
  (await pg.query<{ name: string }>(
    "SELECT name FROM pg_prepared_statements WHERE name LIKE 'nmslite_%' ORDER BY name",
  )).rows.map((r) => r.name);

Deno.test("PGlite statements give every type as PGlite's query does", opts, async () => {
  await withPglite(async (pg, statements) => {
    await pg.exec(`CREATE TABLE t (
      id int PRIMARY KEY, big bigint, num numeric, f float8, r real, ok bool, name text,
      at timestamptz, day date, j json, jb jsonb, ints int[], names text[], raw bytea,
      ip inet, gone text)`);
    const row = [
      1,
      9_007_199_254_740_000,
      "12345678901234567890.5",
      1.5e300,
      0.25,
      true,
      `it's "quoted" \\ and ünïcødé ✓`,
      new Date("2026-11-30T12:34:56.789Z"),
      "2026-11-30",
      { a: [1, "x", null], b: { c: true } },
      { deep: { list: [1.5, -2] } },
      [1, 2, 3],
      ["a,b", 'q"uote', "back\\slash", ""],
      new Uint8Array([0, 1, 254, 255]),
      "10.1.2.3",
      null,
    ];
    const insert = `INSERT INTO t VALUES (${row.map((_, i) => `$${i + 1}`).join(", ")})`;
    await statements.query(insert, row);
    const cases: [string, unknown[]][] = [
      ["SELECT * FROM t WHERE id = $1", [1]],
      ["SELECT * FROM t WHERE name = $1 AND ok = $2", [row[6], true]],
      ["SELECT id FROM t WHERE at = $1", [row[7]]],
      ["SELECT count(*) AS n, sum(big) AS s FROM t WHERE ints @> $1", [[2]]],
      ["SELECT $1::int + 1 AS plus, $2::text AS nothing", [41, null]],
      ["SELECT jb -> 'deep' AS deep FROM t WHERE jb @> $1", [{ deep: { list: [1.5, -2] } }]],
      ["UPDATE t SET gone = $1 WHERE id = $2", ["set", 1]],
      ["SELECT gone FROM t", []],
    ];
    for (const [text, params] of cases) {
      const expected = (await pg.query(text, params)).rows;
      // twice: the first prepares the statement, the second only binds and executes it
      assertEquals(await statements.query(text, params), expected, text);
      assertEquals(await statements.query(text, params), expected, text);
    }
    const [got] = await statements.query<Record<string, unknown>>(
      "SELECT * FROM t WHERE id = $1",
      [1],
    );
    assertEquals(got.big, 9_007_199_254_740_000);
    assertEquals(got.name, row[6]);
    assertEquals((got.at as Date).toISOString(), "2026-11-30T12:34:56.789Z");
    assertEquals(got.names, row[12]);
    assertEquals(Array.from(got.raw as Uint8Array), [0, 1, 254, 255]);
  });
});

Deno.test("PGlite statements are prepared once and the cache keeps its bound", opts, async () => {
  await withPglite(async (pg, statements) => {
    await pg.exec("CREATE TABLE t (id int PRIMARY KEY, v text)");
    const text = "SELECT v FROM t WHERE id = $1";
    for (let i = 0; i < 5; i++) await statements.query(text, [i]);
    assertEquals(statements.size, 1);
    assertEquals((await preparedNames(pg)).length, 1);
    // 20 other texts through a cache of 8: the oldest go, and the server lets them go too
    for (let i = 0; i < 20; i++) {
      assertEquals(await statements.query(`SELECT $1::int + ${i} AS n`, [1]), [{ n: 1 + i }]);
    }
    assertEquals(statements.size, 8);
    const held = await preparedNames(pg);
    // the last eviction is closed with the next call, so at most one more is still open
    assert(held.length >= 8 && held.length <= 9, `held ${held.length}`);
    // the next call, of a cached statement, closes it
    assertEquals(await statements.query("SELECT $1::int + 19 AS n", [1]), [{ n: 20 }]);
    assertEquals((await preparedNames(pg)).length, 8);
  });
});

Deno.test("a failed PGlite statement loses nothing and the session goes on", opts, async () => {
  await withPglite(async (pg, statements) => {
    await pg.exec("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
    const insert = "INSERT INTO t VALUES ($1, $2)";
    await statements.query(insert, [1, "one"]);
    // a syntax error: refused with its code, nothing cached
    const syntax = await assertRejects(() => statements.query("SELEC 1", []));
    assertEquals((syntax as { code?: string }).code, "42601");
    assertEquals(statements.size, 1);
    // errors of a cached statement: unique violation, NOT NULL, a NUL byte in a parameter
    const dup = await assertRejects(() => statements.query(insert, [1, "again"]));
    assertEquals((dup as { code?: string }).code, "23505");
    const nul = await assertRejects(() => statements.query(insert, [2, null]));
    assertEquals((nul as { code?: string }).code, "23502");
    await assertRejects(() => statements.query(insert, [3, "nul\u0000byte"]));
    await statements.query(insert, [2, "two"]);
    assertEquals(await statements.query("SELECT id, v FROM t ORDER BY id", []), [
      { id: 1, v: "one" },
      { id: 2, v: "two" },
    ]);
    // through the driver: a transaction after a failed statement commits as usual
    const db = pgliteDatabase(pg);
    await assertRejects(() => db.query(insert, [1, "dup"]));
    await db.transaction(async (tx) => {
      await tx.query(insert, [3, "three"]);
    });
    assertEquals(await db.query("SELECT count(*)::int AS n FROM t"), [{ n: 3 }]);
  });
});

Deno.test("a table altered under a cached PGlite statement", opts, async () => {
  const statements = await withPglite(async (pg, statements) => {
    await pg.exec("CREATE TABLE t (id int PRIMARY KEY, name text)");
    await statements.query("INSERT INTO t VALUES ($1, $2)", [1, "one"]);
    const text = "SELECT * FROM t WHERE id = $1";
    assertEquals(await statements.query(text, [1]), [{ id: 1, name: "one" }]);
    // the row type changes: PostgreSQL refuses the old plan and the statement is prepared again
    await pg.exec("ALTER TABLE t ADD COLUMN extra int DEFAULT 7");
    assertEquals(await statements.query(text, [1]), [{ id: 1, name: "one", extra: 7 }]);
    // the table dropped and made again with other columns
    await pg.exec("DROP TABLE t; CREATE TABLE t (id int PRIMARY KEY, other bool)");
    await pg.exec("INSERT INTO t VALUES (1, true)");
    assertEquals(await statements.query(text, [1]), [{ id: 1, other: true }]);
    // the server's statements deallocated behind the cache's back
    await pg.exec("DEALLOCATE ALL");
    assertEquals(await statements.query(text, [1]), [{ id: 1, other: true }]);
  });
  // a closed database says so as PGlite does, which the API answers with 503
  const closed = await assertRejects(() => statements.query("SELECT 1", []));
  assert(isDatabaseUnavailable(closed), String(closed));
});
