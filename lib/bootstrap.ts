/**
 * From configuration to a ready AppContext: data directory secrets, database, migrations,
 * the first admin user, the keyring (re-sealing secrets left under an older master key) and
 * the metrics partitions. Shared by main.ts, `deno task migrate` and the tests.
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "./config.ts";
import { type AppContext, VERSION } from "./app_context.ts";
import { openDatabase } from "./db/driver.ts";
import { migrate } from "./db/migrate.ts";
import { loadLocalSecrets } from "./data_dir.ts";
import { Keyring } from "./crypto/secrets.ts";
import { AccessTokens } from "./auth/tokens.ts";
import { LoginThrottle } from "./auth/login_throttle.ts";
import { usersRepo } from "./db/users.ts";
import { credentialProfilesRepo } from "./db/credential_profiles.ts";
import { hashPassword } from "./auth/passwords.ts";
import { ensurePartitions } from "./metrics/partitions.ts";
import { EntityEvents } from "./entity_events.ts";
import { DiscoveryService } from "./discovery/discovery.ts";
import { discoveryRunsRepo } from "./db/discovery_runs.ts";
import { identifyHost } from "./collectors/identify_host.ts";

const log = getLogger(["nmslite", "start"]);

export class StartupError extends Error {
  override name = "StartupError";
}

export async function bootstrap(config: Config): Promise<AppContext> {
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
    const interrupted = await discoveryRunsRepo.failInterrupted(db);
    if (interrupted) {
      log.warn("{count} discovery runs were interrupted by a restart", { count: interrupted });
    }
    const d = config.discovery;
    return {
      config,
      db,
      keyring,
      discovery: new DiscoveryService(db, keyring, identifyHost, {
        concurrency: d.concurrency,
        probeTimeoutMs: d.probe_timeout_ms,
        identifyConcurrency: d.identify_concurrency,
        identifyTimeoutMs: d.identify_timeout_ms,
        ping: d.ping,
      }),
      accessTokens: new AccessTokens(secrets.jwtSecret, config.auth.access_token_ttl_ms),
      loginThrottle: new LoginThrottle(
        config.auth.login_max_failures,
        config.auth.login_lockout_ms,
      ),
      tokenRevocations: new Map(),
      events: new EntityEvents(),
      startedAt: new Date(),
      version: VERSION,
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

async function ensureAdmin(db: AppContext["db"], config: Config): Promise<void> {
  if (await usersRepo.count(db) > 0) return;
  if (!config.admin.password) {
    throw new StartupError(
      "no user exists yet: set NMSLITE_ADMIN_PASSWORD (and optionally NMSLITE_ADMIN_USERNAME) " +
        "to create the first admin",
    );
  }
  const passwordHash = await hashPassword(config.admin.password, config.auth.bcrypt_cost);
  await db.transaction(async (tx) => {
    // Another process may have created it meanwhile; the unique username settles the race.
    await tx.query(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, $2, 'admin')
       ON CONFLICT (username) DO NOTHING`,
      [config.admin.username, passwordHash],
    );
  });
  log.info("created the first admin user {username}", { username: config.admin.username });
}

/** After a master-key rotation, re-seal every secret still under an older key. */
async function resealStaleSecrets(db: AppContext["db"], keyring: Keyring): Promise<void> {
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
