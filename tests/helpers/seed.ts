/** Rows a database test needs before it can store metrics: monitors on loopback devices. */
import type { Database } from "../../lib/db/driver.ts";
import { Keyring, parseMasterKey } from "../../lib/crypto/secrets.ts";

/** A fixed master key for tests that hand a seeded database to a real main.ts. */
export const SEED_MASTER_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/**
 * Creates `n` devices (127.0.<third>.1…) with one monitor each and returns the monitor ids.
 * Monitors start disabled unless asked, so no scheduler polls them.
 */
export async function seedMonitors(
  db: Database,
  n: number,
  opts: { third?: number; enabled?: boolean } = {},
): Promise<number[]> {
  // Sealed for real: main.ts re-seals stale secrets at start and refuses what it cannot open.
  const keyring = await Keyring.create(parseMasterKey(SEED_MASTER_KEY));
  await db.query(
    `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('seed', 'winrm_ntlm', 'u', $1, 5985) ON CONFLICT (name) DO NOTHING`,
    [await keyring.encrypt("seed-password")],
  );
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const [d] = await db.query<{ id: number }>(
      "INSERT INTO devices (ip) VALUES ($1) RETURNING id",
      [`127.0.${opts.third ?? 90}.${i + 1}`],
    );
    const [m] = await db.query<{ id: number }>(
      `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval, enabled)
       SELECT $1, c.id, p.id, 60, $2 FROM credential_profiles c, plugins p
       WHERE c.name = 'seed' AND p.name = 'windows-winrm' RETURNING id`,
      [d.id, opts.enabled ?? false],
    );
    ids.push(m.id);
  }
  return ids;
}

/**
 * Like seedMonitors, in one statement whatever `n` (devices from 127.0.<third>.1 on, across
 * octets): fleets of thousands for tests and benches that need real table statistics.
 */
export async function seedMonitorsInBulk(
  db: Database,
  n: number,
  opts: { third?: number } = {},
): Promise<number[]> {
  await seedMonitors(db, 0); // the sealed "seed" credential profile
  const rows = await db.query<{ id: number }>(
    `WITH d AS (
       INSERT INTO devices (ip)
       SELECT $1::inet + g FROM generate_series(1, $2::int) g ORDER BY g RETURNING id)
     INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval, enabled)
     SELECT d.id, c.id, p.id, 60, false FROM d, credential_profiles c, plugins p
     WHERE c.name = 'seed' AND p.name = 'windows-winrm' ORDER BY d.id RETURNING id`,
    [`127.0.${opts.third ?? 90}.0`, n],
  );
  return rows.map((r) => r.id).sort((a, b) => a - b);
}
