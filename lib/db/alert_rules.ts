/** Alert rules, device tags and maintenance windows: what decides whether a problem opens. */
import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";
import type { Severity } from "../alerting/notification.ts";

export type Operator = ">" | ">=" | "<" | "<=";
export type ScopeKind = "all" | "tag" | "device";

export interface AlertRule {
  id: number;
  name: string;
  metric: string;
  operator: Operator;
  threshold: number;
  recovery_threshold: number | null;
  for_seconds: number;
  severity: Severity;
  scope_kind: ScopeKind;
  scope_tag: string | null;
  scope_device_id: number | null;
  enabled: boolean;
  /** a metric's parameters (lib/alerting/catalogue.ts RuleParams), {} for most */
  params: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export type AlertRuleWrite = Omit<AlertRule, "id" | "created_at" | "updated_at">;

const FIELDS = [
  "name",
  "metric",
  "operator",
  "threshold",
  "recovery_threshold",
  "for_seconds",
  "severity",
  "scope_kind",
  "scope_tag",
  "scope_device_id",
  "enabled",
  "params",
] as const;

export const alertRulesRepo = {
  list(db: Queryable, list: ListParams, filter: { metric?: string; enabled?: boolean }) {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.metric) {
      params.push(filter.metric);
      where.push(`metric = $${params.length}`);
    }
    if (filter.enabled !== undefined) {
      params.push(filter.enabled);
      where.push(`enabled = $${params.length}`);
    }
    return listPage<AlertRule>(db, {
      from: "alert_rules",
      where,
      params,
      sortable: { id: "id", name: "lower(name)", severity: "severity", metric: "metric" },
      defaultSort: "id",
    }, list) as Promise<Page<AlertRule>>;
  },
  async all(db: Queryable): Promise<AlertRule[]> {
    return await db.query<AlertRule>("SELECT * FROM alert_rules ORDER BY id");
  },
  async get(db: Queryable, id: number): Promise<AlertRule | undefined> {
    return (await db.query<AlertRule>("SELECT * FROM alert_rules WHERE id = $1", [id]))[0];
  },
  async create(db: Queryable, r: AlertRuleWrite): Promise<AlertRule> {
    return (await db.query<AlertRule>(
      `INSERT INTO alert_rules (${FIELDS.join(", ")})
       VALUES (${FIELDS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *`,
      FIELDS.map((f) => r[f]),
    ))[0];
  },
  async update(db: Queryable, id: number, r: AlertRuleWrite): Promise<AlertRule | undefined> {
    return (await db.query<AlertRule>(
      `UPDATE alert_rules SET ${FIELDS.map((f, i) => `${f} = $${i + 2}`).join(", ")},
         updated_at = now() WHERE id = $1 RETURNING *`,
      [id, ...FIELDS.map((f) => r[f])],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM alert_rules WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};

export const deviceTagsRepo = {
  async of(db: Queryable, deviceId: number): Promise<string[]> {
    return (await db.query<{ tag: string }>(
      "SELECT tag FROM device_tags WHERE device_id = $1 ORDER BY tag",
      [deviceId],
    )).map((r) => r.tag);
  },
  async set(db: Queryable, deviceId: number, tags: readonly string[]): Promise<void> {
    await db.query("DELETE FROM device_tags WHERE device_id = $1", [deviceId]);
    if (tags.length) {
      await db.query(
        "INSERT INTO device_tags (device_id, tag) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
        [deviceId, tags],
      );
    }
  },
  /** Every tag in use and how many devices carry it. */
  async counts(db: Queryable): Promise<{ tag: string; devices: number }[]> {
    return await db.query(
      "SELECT tag, count(*)::int AS devices FROM device_tags GROUP BY tag ORDER BY tag",
    );
  },
  /** The evaluator's view of every device: tags and reachability. */
  async deviceStates(
    db: Queryable,
  ): Promise<{ id: number; tags: string[]; unreachable: boolean }[]> {
    return await db.query(
      `SELECT d.id, d.status = 'unreachable' AS unreachable,
         COALESCE(array_agg(t.tag ORDER BY t.tag) FILTER (WHERE t.tag IS NOT NULL), '{}') AS tags
       FROM devices d LEFT JOIN device_tags t ON t.device_id = d.id GROUP BY d.id`,
    );
  },
  async deviceState(
    db: Queryable,
    id: number,
  ): Promise<{ id: number; tags: string[]; unreachable: boolean } | undefined> {
    return (await db.query<{ id: number; tags: string[]; unreachable: boolean }>(
      `SELECT d.id, d.status = 'unreachable' AS unreachable,
         COALESCE(array_agg(t.tag ORDER BY t.tag) FILTER (WHERE t.tag IS NOT NULL), '{}') AS tags
       FROM devices d LEFT JOIN device_tags t ON t.device_id = d.id WHERE d.id = $1 GROUP BY d.id`,
      [id],
    ))[0];
  },
  /** Enabled monitors: which device each belongs to and how often it polls (no-data rules). */
  async monitors(db: Queryable): Promise<{ id: number; deviceId: number; intervalS: number }[]> {
    return await db.query(
      `SELECT id, device_id AS "deviceId", polling_interval AS "intervalS"
       FROM monitors WHERE enabled`,
    );
  },

  /** The monitors of `ids` as monitors() has them (those gone or disabled are absent). */
  async monitorsOf(
    db: Queryable,
    ids: number[],
  ): Promise<{ id: number; deviceId: number; intervalS: number }[]> {
    if (!ids.length) return [];
    return await db.query(
      `SELECT id, device_id AS "deviceId", polling_interval AS "intervalS"
       FROM monitors WHERE id = ANY($1::int[]) AND enabled`,
      [ids],
    );
  },
};

export interface MaintenanceWindow {
  id: number;
  name: string;
  scope_kind: ScopeKind;
  scope_tag: string | null;
  scope_device_id: number | null;
  kind: "once" | "weekly";
  starts_at: Date | null;
  ends_at: Date | null;
  weekdays: number[] | null;
  start_minute: number | null;
  duration_minutes: number | null;
  created_at: Date;
  updated_at: Date;
}

export type MaintenanceWrite = Omit<MaintenanceWindow, "id" | "created_at" | "updated_at">;

const MW_FIELDS = [
  "name",
  "scope_kind",
  "scope_tag",
  "scope_device_id",
  "kind",
  "starts_at",
  "ends_at",
  "weekdays",
  "start_minute",
  "duration_minutes",
] as const;

export const maintenanceRepo = {
  list(db: Queryable, list: ListParams): Promise<Page<MaintenanceWindow>> {
    return listPage<MaintenanceWindow>(db, {
      from: "maintenance_windows",
      sortable: { id: "id", name: "lower(name)", starts_at: "starts_at" },
      defaultSort: "id",
    }, list);
  },
  async all(db: Queryable): Promise<MaintenanceWindow[]> {
    return await db.query<MaintenanceWindow>("SELECT * FROM maintenance_windows ORDER BY id");
  },
  async get(db: Queryable, id: number): Promise<MaintenanceWindow | undefined> {
    return (await db.query<MaintenanceWindow>(
      "SELECT * FROM maintenance_windows WHERE id = $1",
      [id],
    ))[0];
  },
  async create(db: Queryable, w: MaintenanceWrite): Promise<MaintenanceWindow> {
    return (await db.query<MaintenanceWindow>(
      `INSERT INTO maintenance_windows (${MW_FIELDS.join(", ")})
       VALUES (${MW_FIELDS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *`,
      MW_FIELDS.map((f) => w[f]),
    ))[0];
  },
  async update(
    db: Queryable,
    id: number,
    w: MaintenanceWrite,
  ): Promise<MaintenanceWindow | undefined> {
    return (await db.query<MaintenanceWindow>(
      `UPDATE maintenance_windows SET ${MW_FIELDS.map((f, i) => `${f} = $${i + 2}`).join(", ")},
         updated_at = now() WHERE id = $1 RETURNING *`,
      [id, ...MW_FIELDS.map((f) => w[f])],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM maintenance_windows WHERE id = $1 RETURNING id", [id]))
      .length > 0;
  },
};
