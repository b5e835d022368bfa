/** Notification channels and policies, the outbox and its delivery log. */
import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";
import type { ChannelType, Notification, Severity } from "../alerting/notification.ts";

export interface ChannelRow {
  id: number;
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  /** sealed JSON of the secret settings; never leaves lib/ */
  secrets: string | null;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ChannelWrite {
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  secrets: string | null;
  enabled: boolean;
}

export interface Policy {
  id: number;
  name: string;
  channel_id: number;
  min_severity: Severity;
  tag: string | null;
  repeat_interval_s: number | null;
  send_resolved: boolean;
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export type PolicyWrite = Omit<Policy, "id" | "created_at" | "updated_at">;
const POLICY_FIELDS = [
  "name",
  "channel_id",
  "min_severity",
  "tag",
  "repeat_interval_s",
  "send_resolved",
  "enabled",
] as const;

export interface OutboxRow {
  id: number;
  problem_id: number | null;
  channel_id: number;
  idempotency_key: string;
  kind: string;
  payload: Notification;
  status: "pending" | "delivered" | "dead";
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  created_at: Date;
  delivered_at: Date | null;
}

export interface Delivery {
  id: number;
  outbox_id: number;
  channel_id: number;
  attempt: number;
  ok: boolean;
  status: string;
  detail: string | null;
  duration_ms: number;
  at: Date;
}

const jsonParam = (v: unknown) => JSON.stringify(v);

export const channelsRepo = {
  list(db: Queryable, list: ListParams): Promise<Page<ChannelRow>> {
    return listPage<ChannelRow>(db, {
      from: "notification_channels",
      sortable: { id: "id", name: "lower(name)", type: "type" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<ChannelRow | undefined> {
    return (await db.query<ChannelRow>("SELECT * FROM notification_channels WHERE id = $1", [id]))[
      0
    ];
  },
  async all(db: Queryable): Promise<ChannelRow[]> {
    return await db.query<ChannelRow>("SELECT * FROM notification_channels ORDER BY id");
  },
  async create(db: Queryable, c: ChannelWrite): Promise<ChannelRow> {
    return (await db.query<ChannelRow>(
      `INSERT INTO notification_channels (name, type, settings, secrets, enabled)
       VALUES ($1, $2, $3::text::jsonb, $4, $5) RETURNING *`,
      [c.name, c.type, jsonParam(c.settings), c.secrets, c.enabled],
    ))[0];
  },
  async update(db: Queryable, id: number, c: ChannelWrite): Promise<ChannelRow | undefined> {
    return (await db.query<ChannelRow>(
      `UPDATE notification_channels SET name = $2, type = $3, settings = $4::text::jsonb,
         secrets = $5, enabled = $6, updated_at = now() WHERE id = $1 RETURNING *`,
      [id, c.name, c.type, jsonParam(c.settings), c.secrets, c.enabled],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM notification_channels WHERE id = $1 RETURNING id", [id]))
      .length > 0;
  },
};

export const policiesRepo = {
  list(db: Queryable, list: ListParams): Promise<Page<Policy>> {
    return listPage<Policy>(db, {
      from: "notification_policies",
      sortable: { id: "id", name: "lower(name)" },
      defaultSort: "id",
    }, list);
  },
  async all(db: Queryable): Promise<Policy[]> {
    return await db.query<Policy>("SELECT * FROM notification_policies WHERE enabled ORDER BY id");
  },
  async get(db: Queryable, id: number): Promise<Policy | undefined> {
    return (await db.query<Policy>("SELECT * FROM notification_policies WHERE id = $1", [id]))[0];
  },
  async create(db: Queryable, p: PolicyWrite): Promise<Policy> {
    return (await db.query<Policy>(
      `INSERT INTO notification_policies (${POLICY_FIELDS.join(", ")})
       VALUES (${POLICY_FIELDS.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING *`,
      POLICY_FIELDS.map((f) => p[f]),
    ))[0];
  },
  async update(db: Queryable, id: number, p: PolicyWrite): Promise<Policy | undefined> {
    return (await db.query<Policy>(
      `UPDATE notification_policies SET ${
        POLICY_FIELDS.map((f, i) => `${f} = $${i + 2}`).join(", ")
      }, updated_at = now() WHERE id = $1 RETURNING *`,
      [id, ...POLICY_FIELDS.map((f) => p[f])],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM notification_policies WHERE id = $1 RETURNING id", [id]))
      .length > 0;
  },
};

export const outboxRepo = {
  /** Queues a notification for a channel; a repeated key is ignored (idempotent). */
  async enqueue(db: Queryable, channelId: number, n: Notification): Promise<void> {
    await db.query(
      `INSERT INTO notification_outbox (problem_id, channel_id, idempotency_key, kind, payload)
       VALUES ($1, $2, $3, $4, $5::text::jsonb) ON CONFLICT (idempotency_key) DO NOTHING`,
      [n.problemId || null, channelId, `${n.idempotencyKey}:${channelId}`, n.kind, jsonParam(n)],
    );
  },
  /**
   * Pending rows that are due, oldest first, and only the first pending one of each
   * (problem, channel): a problem's notifications reach a channel in order.
   */
  async due(db: Queryable, limit: number): Promise<OutboxRow[]> {
    return await db.query<OutboxRow>(
      `SELECT o.* FROM notification_outbox o
       WHERE o.status = 'pending' AND o.next_attempt_at <= now()
         AND NOT EXISTS (SELECT 1 FROM notification_outbox e WHERE e.status = 'pending'
           AND e.problem_id = o.problem_id AND e.channel_id = o.channel_id AND e.id < o.id)
       ORDER BY o.id LIMIT $1`,
      [limit],
    );
  },
  /**
   * Claims the due rows (as `due` chooses them) for one attempt by this process: their
   * next_attempt_at moves `leaseMs` ahead, so no other process sees them due until the attempt
   * is recorded or the claimant died and the lease ran out. Rows another process is claiming
   * at the same moment are skipped (SKIP LOCKED), never waited for. A claimed row stays
   * pending, so the rows after it in its (problem, channel) still wait their turn. Rows in
   * `skip` (attempted earlier in the caller's round) are left alone.
   */
  async claim(
    db: Queryable,
    limit: number,
    leaseMs: number,
    skip: readonly number[] = [],
  ): Promise<OutboxRow[]> {
    return await db.query<OutboxRow>(
      `UPDATE notification_outbox SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
       WHERE id IN (SELECT o.id FROM notification_outbox o
         WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND o.id <> ALL($3::text::bigint[])
           AND NOT EXISTS (SELECT 1 FROM notification_outbox e WHERE e.status = 'pending'
             AND e.problem_id = o.problem_id AND e.channel_id = o.channel_id AND e.id < o.id)
         ORDER BY o.id LIMIT $1 FOR UPDATE OF o SKIP LOCKED)
       RETURNING *`,
      [limit, leaseMs, `{${skip.join(",")}}`],
    );
  },
  /**
   * Milliseconds until the earliest pending row that a claim could take falls due (≤ 0: due
   * now); null when none is pending. A row waiting behind an earlier one of its problem and
   * channel does not count: it is taken when that one is done.
   */
  async nextDueInMs(db: Queryable): Promise<number | null> {
    const [r] = await db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(o.next_attempt_at) - now()) * 1000)::float8 AS ms
       FROM notification_outbox o
       WHERE o.status = 'pending'
         AND NOT EXISTS (SELECT 1 FROM notification_outbox e WHERE e.status = 'pending'
           AND e.problem_id = o.problem_id AND e.channel_id = o.channel_id AND e.id < o.id)`,
    );
    return r?.ms ?? null;
  },
  /**
   * One attempt: the row delivered, rescheduled or dead, and its log row, in one statement.
   * Recorded only when the row is still as claimed (same attempt count, still pending): a
   * claimant whose lease ran out and was overtaken records nothing. Returns whether it did.
   */
  async recordAttempt(
    db: Queryable,
    row: OutboxRow,
    a: {
      ok: boolean;
      status: string;
      detail: string | null;
      durationMs: number;
      next: "delivered" | "dead" | Date;
    },
  ): Promise<boolean> {
    const status = a.next instanceof Date ? "pending" : a.next;
    const rows = await db.query(
      `WITH u AS (
         UPDATE notification_outbox SET attempts = $2::int, status = $3::text, last_error = $4,
           next_attempt_at = COALESCE($5::timestamptz, next_attempt_at),
           delivered_at = CASE WHEN $3::text = 'delivered' THEN now() ELSE delivered_at END
         WHERE id = $1 AND attempts = $2::int - 1 AND status = 'pending'
         RETURNING id, problem_id, channel_id)
       INSERT INTO notification_deliveries (outbox_id, problem_id, channel_id, attempt, ok, status,
         detail, duration_ms)
       SELECT id, problem_id, channel_id, $2::int, $6::boolean, $7::text, $8::text, $9::int FROM u
       RETURNING id`,
      [
        row.id,
        row.attempts + 1,
        status,
        a.ok ? null : `${a.status}: ${a.detail ?? ""}`.slice(0, 500),
        a.next instanceof Date ? a.next : null,
        a.ok,
        a.status,
        a.detail,
        Math.round(a.durationMs),
      ],
    );
    return rows.length > 0;
  },
  async depth(db: Queryable): Promise<{ pending: number; dead: number }> {
    return (await db.query<{ pending: number; dead: number }>(
      `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
         count(*) FILTER (WHERE status = 'dead')::int AS dead FROM notification_outbox`,
    ))[0];
  },
  async dead(db: Queryable, limit = 100): Promise<OutboxRow[]> {
    return await db.query<OutboxRow>(
      `SELECT * FROM notification_outbox WHERE status = 'dead' ORDER BY id DESC LIMIT $1`,
      [limit],
    );
  },
  async deliveriesOf(db: Queryable, problemId: number): Promise<Delivery[]> {
    return await db.query<Delivery>(
      `SELECT id, outbox_id, channel_id, attempt, ok, status, detail, duration_ms, at
       FROM notification_deliveries WHERE problem_id = $1 ORDER BY id`,
      [problemId],
    );
  },
  /** Counts by channel and outcome since start are kept in memory; this is the durable view. */
  async outcomeCounts(
    db: Queryable,
  ): Promise<{ channel_id: number; ok: boolean; n: number }[]> {
    return await db.query(
      `SELECT channel_id, ok, count(*)::int AS n FROM notification_deliveries GROUP BY 1, 2`,
    );
  },
};
