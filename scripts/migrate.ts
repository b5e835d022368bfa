/** `deno task migrate`: applies pending migrations to the configured database and exits. */
import { loadConfig } from "../lib/config.ts";
import { openDatabase } from "../lib/db/driver.ts";
import { migrate } from "../lib/db/migrate.ts";
import { ensurePartitions } from "../lib/metrics/partitions.ts";

const config = loadConfig(Deno.args, Deno.env.toObject());
const db = await openDatabase({
  url: config.database.url,
  dataDir: config.data_dir,
  maxConnections: 1,
});
try {
  const applied = await migrate(db);
  const partitions = await ensurePartitions(db);
  console.log(
    JSON.stringify({ applied, partitions_created: partitions.length, database: db.kind }),
  );
} finally {
  await db.close();
}
