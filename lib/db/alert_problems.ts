/** Problems (open, acknowledged, resolved) and their counts. */
import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";
import type { Severity } from "../alerting/notification.ts";

export interface Problem {
  id: number;
  rule_id: number | null;
  rule_name: string;
  device_id: number;
  device_name: string;
  device_ip: string;
  instance: string;
  severity: Severity;
  state: "open" | "resolved";
  opened_at: Date;
  open_value: number | null;
  threshold: number | null;
  summary: string;
  acknowledged: boolean;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
  resolved_at: Date | null;
  resolve_value: number | null;
  in_maintenance: boolean;
  sequence: number;
  notified_at: Date | null;
}

export interface ProblemFilter {
  state?: "open" | "resolved" | "acknowledged" | "unacknowledged";
  severity?: Severity;
  device_id?: number;
  tag?: string;
  since?: Date;
  until?: Date;
}

const FROM = `problems p JOIN devices d ON d.id = p.device_id`;
const COLUMNS =
  `p.id, p.rule_id, p.rule_name, p.device_id, COALESCE(d.hostname, host(d.ip)) AS device_name,
  host(d.ip) AS device_ip, p.instance, p.severity, p.state, p.opened_at, p.open_value, p.threshold,
  p.summary, p.acknowledged_at IS NOT NULL AS acknowledged, p.acknowledged_at, p.acknowledged_by,
  p.ack_comment, p.resolved_at, p.resolve_value, p.in_maintenance, p.sequence, p.notified_at`;

export interface NewProblem {
  rule_id: number;
  rule_name: string;
  device_id: number;
  instance: string;
  severity: Severity;
  opened_at: Date;
  open_value: number | null;
  threshold: number | null;
  summary: string;
  in_maintenance: boolean;
}

export const problemsRepo = {
  list(db: Queryable, list: ListParams, f: ProblemFilter): Promise<Page<Problem>> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (f.state === "open" || f.state === "resolved") add("p.state = ?", f.state);
    if (f.state === "acknowledged") {
      where.push("p.state = 'open' AND p.acknowledged_at IS NOT NULL");
    }
    if (f.state === "unacknowledged") where.push("p.state = 'open' AND p.acknowledged_at IS NULL");
    if (f.severity) add("p.severity = ?", f.severity);
    if (f.device_id) add("p.device_id = ?", f.device_id);
    if (f.tag) {
      add(
        "EXISTS (SELECT 1 FROM device_tags t WHERE t.device_id = p.device_id AND t.tag = ?)",
        f.tag,
      );
    }
    if (f.since) add("COALESCE(p.resolved_at, 'infinity') >= ?", f.since);
    if (f.until) add("p.opened_at <= ?", f.until);
    return listPage<Problem>(db, {
      from: FROM,
      select: COLUMNS,
      where,
      params,
      sortable: {
        id: "p.id",
        opened_at: "p.opened_at",
        severity: `array_position(ARRAY['info','warning','high','critical'], p.severity)`,
        device: "lower(COALESCE(d.hostname, host(d.ip)))",
      },
      defaultSort: "opened_at",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<Problem | undefined> {
    return (await db.query<Problem>(`SELECT ${COLUMNS} FROM ${FROM} WHERE p.id = $1`, [id]))[0];
  },
  async openKeys(
    db: Queryable,
  ): Promise<{ ruleId: number; deviceId: number; instance: string }[]> {
    return await db.query(
      `SELECT rule_id AS "ruleId", device_id AS "deviceId", instance FROM problems
       WHERE state = 'open' AND rule_id IS NOT NULL`,
    );
  },
  /** Opens a problem unless one is open for the same (rule, device, instance): then undefined. */
  async open(db: Queryable, p: NewProblem): Promise<number | undefined> {
    return (await db.query<{ id: number }>(
      `INSERT INTO problems (rule_id, rule_name, device_id, instance, severity, state, opened_at,
         open_value, threshold, summary, in_maintenance)
       SELECT $1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10
       WHERE EXISTS (SELECT 1 FROM devices WHERE id = $3)
       ON CONFLICT (rule_id, device_id, instance) WHERE state = 'open' DO NOTHING
       RETURNING id`,
      [
        p.rule_id,
        p.rule_name,
        p.device_id,
        p.instance,
        p.severity,
        p.opened_at,
        p.open_value,
        p.threshold,
        p.summary,
        p.in_maintenance,
      ],
    ))[0]?.id;
  },
  async resolve(
    db: Queryable,
    key: { ruleId: number; deviceId: number; instance: string },
    at: Date,
    value: number | null,
  ): Promise<number | undefined> {
    return (await db.query<{ id: number }>(
      `UPDATE problems SET state = 'resolved', resolved_at = $4, resolve_value = $5
       WHERE rule_id = $1 AND device_id = $2 AND instance = $3 AND state = 'open' RETURNING id`,
      [key.ruleId, key.deviceId, key.instance, at, value],
    ))[0]?.id;
  },
  /** Every open problem of a rule (deleted, disabled or changed) resolves at once. */
  async resolveRule(db: Queryable, ruleId: number): Promise<number[]> {
    return (await db.query<{ id: number }>(
      `UPDATE problems SET state = 'resolved', resolved_at = now()
       WHERE rule_id = $1 AND state = 'open' RETURNING id`,
      [ruleId],
    )).map((r) => r.id);
  },
  async acknowledge(
    db: Queryable,
    id: number,
    by: string,
    comment: string | null,
  ): Promise<boolean> {
    return (await db.query(
      `UPDATE problems SET acknowledged_at = now(), acknowledged_by = $2, ack_comment = $3
       WHERE id = $1 RETURNING id`,
      [id, by, comment],
    )).length > 0;
  },
  /** The next notification sequence of a problem; marks it notified when `firing`. */
  async nextSequence(db: Queryable, id: number, firing: boolean): Promise<number> {
    return (await db.query<{ sequence: number }>(
      `UPDATE problems SET sequence = sequence + 1
         ${firing ? ", notified_at = now()" : ""} WHERE id = $1 RETURNING sequence`,
      [id],
    ))[0].sequence;
  },
  /**
   * Locks an open problem for a held or repeat notification, unless another process notified
   * it since `notifiedAt` was read (then false): two processes never both send the same repeat.
   */
  async claimNotify(db: Queryable, id: number, notifiedAt: Date | null): Promise<boolean> {
    return (await db.query(
      `SELECT id FROM problems WHERE id = $1 AND state = 'open'
         AND date_trunc('milliseconds', notified_at) IS NOT DISTINCT FROM $2::timestamptz
       FOR UPDATE`,
      [id, notifiedAt],
    )).length > 0;
  },
  async setMaintenance(db: Queryable, id: number, on: boolean): Promise<void> {
    await db.query("UPDATE problems SET in_maintenance = $2 WHERE id = $1", [id, on]);
  },
  /** Open problems whose first or repeat notification may be due (the notifier filters). */
  async openForNotify(db: Queryable): Promise<(Problem & { tags: string[] })[]> {
    return await db.query<Problem & { tags: string[] }>(
      `SELECT ${COLUMNS}, COALESCE((SELECT array_agg(t.tag) FROM device_tags t
         WHERE t.device_id = p.device_id), '{}') AS tags
       FROM ${FROM} WHERE p.state = 'open' AND p.acknowledged_at IS NULL`,
    );
  },
  async counts(
    db: Queryable,
  ): Promise<{ severity: Severity; open: number; acknowledged: number; maintenance: number }[]> {
    return await db.query(
      `SELECT severity, count(*)::int AS open,
         count(*) FILTER (WHERE acknowledged_at IS NOT NULL)::int AS acknowledged,
         count(*) FILTER (WHERE in_maintenance)::int AS maintenance
       FROM problems WHERE state = 'open' GROUP BY severity`,
    );
  },
  /** History kept as long as metrics are. */
  async prune(db: Queryable, retentionDays: number): Promise<number> {
    if (retentionDays <= 0) return 0;
    return (await db.query(
      `DELETE FROM problems WHERE state = 'resolved'
         AND resolved_at < now() - make_interval(days => $1) RETURNING id`,
      [retentionDays],
    )).length;
  },
};
