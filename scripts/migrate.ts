/** `deno task migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig } from "../lib/config.ts";
import { type Database, DatabaseUnavailableError, openDatabase } from "../lib/db/driver.ts";
import { migrate } from "../lib/db/migrate.ts";
import { ensurePartitions } from "../lib/metrics/partitions.ts";

const config = loadConfig(Deno.args, Deno.env.toObject());
let db: Database;
try {
  db = await openDatabase({
    url: config.database.url,
    dataDir: config.data_dir,
    maxConnections: 1,
  });
} catch (err) {
  // the embedded database held by a running server, PostgreSQL unreachable: say so and stop
  if (!(err instanceof DatabaseUnavailableError)) throw err;
  console.error(`nmslite migrate: ${err.message}`);
  Deno.exit(1);
}
try {
  const applied = await migrate(db);
  const partitions = await ensurePartitions(db);
  console.log(
    JSON.stringify({ applied, partitions_created: partitions.length, database: db.kind }),
  );
} finally {
  await db.close();
}
