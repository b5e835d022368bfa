/**
 * From configuration to an open, migrated database: data directory secrets, migrations, the
 * first admin user, the keyring (re-sealing secrets left under an older master key), the
 * metrics partitions and discovery runs a restart interrupted. lib/compose.ts builds the rest
 * on top; `deno task migrate` (scripts/migrate.ts) only migrates and does not come here.
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { type Database, openDatabase } from "./db/driver.ts";
import { migrate } from "./db/migrate.ts";
import { loadLocalSecrets } from "./data_dir.ts";
import { Keyring } from "./crypto/secrets.ts";
import { usersRepo } from "./db/users.ts";
import { credentialProfilesRepo } from "./db/credential_profiles.ts";
import { hashPassword } from "./auth/passwords.ts";
import { ensurePartitions } from "./metrics/partitions.ts";
import { ensureDetailPartitions } from "./metrics/detail_retention.ts";
import { discoveryRunsRepo } from "./db/discovery_runs.ts";

const log = getLogger(["nmslite", "start"]);

export class StartupError extends Error {
  override name = "StartupError";
}

export interface Foundation {
  db: Database;
  keyring: Keyring;
  /** the access-token signing secret */
  jwtSecret: Uint8Array;
}

export async function bootstrap(config: Config): Promise<Foundation> {
  const secrets = await loadLocalSecrets(config);
  const db = await openDatabase({
    url: config.database.url,
    dataDir: config.data_dir,
    maxConnections: config.database.max_connections,
  });
  try {
    const applied = await migrate(db);
    if (applied.length) log.info("applied migrations {applied}", { applied });
    await ensureAdmin(db, config);
    const keyring = await Keyring.create(secrets.masterKey, secrets.previousKeys);
    await resealStaleSecrets(db, keyring);
    await ensurePartitions(db);
    await ensureDetailPartitions(db);
    const interrupted = await discoveryRunsRepo.failInterrupted(db);
    if (interrupted) {
      log.warn("{count} discovery runs were interrupted by a restart", { count: interrupted });
    }
    return { db, keyring, jwtSecret: secrets.jwtSecret };
  } catch (err) {
    await db.close();
    throw err;
  }
}

async function ensureAdmin(db: Database, config: Config): Promise<void> {
  if (await usersRepo.count(db) > 0) return;
  if (!config.admin.password) {
    throw new StartupError(
      "no user exists yet: set NMSLITE_ADMIN_PASSWORD (and optionally NMSLITE_ADMIN_USERNAME) " +
        "to create the first admin",
    );
  }
  const passwordHash = await hashPassword(config.admin.password, config.auth.bcrypt_cost);
  await usersRepo.createAdminIfAbsent(db, config.admin.username, passwordHash);
  log.info("created the first admin user {username}", { username: config.admin.username });
}

/** After a master-key rotation, re-seal every secret still under an older key. */
async function resealStaleSecrets(db: Database, keyring: Keyring): Promise<void> {
  const rows = await credentialProfilesRepo.listSecrets(db);
  let resealed = 0;
  for (const row of rows) {
    if (!keyring.isStale(row.password_enc)) continue;
    const plain = await keyring.decrypt(row.password_enc);
    await credentialProfilesRepo.setSecret(db, row.id, await keyring.encrypt(plain));
    resealed++;
  }
  if (resealed) {
    log.info("re-sealed {count} secrets under the current master key", { count: resealed });
  }
}
