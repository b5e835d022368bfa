/**
 * On PostgreSQL a query with parameters is a named prepared statement of its connection: the
 * first run parses and describes it, later runs send only Bind and Execute (one round trip
 * instead of two, and no parse or plan on the server). A change of the table under a cached
 * statement does not break it: the driver prepares it again.
 */
import { assertEquals } from "../helpers/assert.ts";
import { postgresSessionTest } from "../helpers/databases.ts";

postgresSessionTest(
  "postgres: parameterised queries are prepared once per connection and survive DDL",
  async (db) => {
    await db.exec("CREATE TABLE t (id int PRIMARY KEY, name text)");
    const text = "SELECT * FROM t WHERE id = $1";
    await db.query("INSERT INTO t VALUES ($1, $2)", [1, "one"]);
    for (let i = 0; i < 3; i++) {
      assertEquals(await db.query(text, [1]), [{ id: 1, name: "one" }]);
    }
    const prepared = await db.query<{ statement: string; n: number }>(
      `SELECT statement, count(*)::int AS n FROM pg_prepared_statements
      WHERE statement = $1 GROUP BY statement`,
      [text],
    );
    assertEquals(prepared, [{ statement: text, n: 1 }]);

    // the row type of the cached statement changes: PostgreSQL refuses the old plan
    // ("cached plan must not change result type") and the driver prepares it again
    await db.exec("ALTER TABLE t ADD COLUMN extra int DEFAULT 7");
    assertEquals(await db.query(text, [1]), [{ id: 1, name: "one", extra: 7 }]);
  },
);
