/** Read model: the names a dashboard form offers in its selects. */
import type { Queryable } from "./driver.ts";
import type { NamedOption } from "../web/page_data.ts";

export const pickLists = {
  /** Credential profiles by name. */
  credentials(db: Queryable): Promise<NamedOption[]> {
    return db.query<NamedOption>(
      "SELECT id, name FROM credential_profiles ORDER BY name LIMIT 500",
    );
  },
  /** Plugins in the order they were added (the built-in one first). */
  plugins(db: Queryable): Promise<NamedOption[]> {
    return db.query<NamedOption>("SELECT id, name FROM plugins ORDER BY id LIMIT 500");
  },
  /** The credential types a device's monitors log in with ("winrm_ntlm", "wmi", ...). */
  async deviceProtocols(db: Queryable, deviceId: number): Promise<string[]> {
    const rows = await db.query<{ type: string }>(
      `SELECT DISTINCT c.type FROM monitors m
         JOIN credential_profiles c ON c.id = m.credential_profile_id
        WHERE m.device_id = $1 ORDER BY c.type`,
      [deviceId],
    );
    return rows.map((r) => r.type);
  },
  /** The built-in collector's plugin, which "Monitor these devices" uses; null if missing. */
  async builtinPluginId(db: Queryable): Promise<number | null> {
    const [row] = await db.query<{ id: number }>(
      "SELECT id FROM plugins WHERE type = 'builtin' ORDER BY id LIMIT 1",
    );
    return row?.id ?? null;
  },
};
