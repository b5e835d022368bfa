import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

export interface AuditEntry {
  id: number;
  at: Date;
  user_id: number | null;
  username: string | null;
  action: string;
  entity: string;
  entity_id: string | null;
  details: Record<string, unknown> | null;
  request_id: string | null;
}

export interface AuditRecord {
  userId: number | null;
  username: string | null;
  action: string;
  entity: string;
  entityId?: string | number | null;
  details?: Record<string, unknown> | null;
  requestId?: string | null;
}

export const auditLogRepo = {
  async record(db: Queryable, e: AuditRecord): Promise<void> {
    await db.query(
      `INSERT INTO audit_log (user_id, username, action, entity, entity_id, details, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        e.userId,
        e.username,
        e.action,
        e.entity,
        e.entityId == null ? null : String(e.entityId),
        e.details ?? null,
        e.requestId ?? null,
      ],
    );
  },
  /** One entry per entity id of `ids`, the rest as in `e`, in one statement. */
  async recordEach(db: Queryable, e: Omit<AuditRecord, "entityId">, ids: number[]): Promise<void> {
    if (!ids.length) return;
    await db.query(
      `INSERT INTO audit_log (user_id, username, action, entity, entity_id, details, request_id)
       SELECT $1, $2, $3, $4, id::text, $5, $6 FROM unnest($7::int[]) AS id`,
      [
        e.userId,
        e.username,
        e.action,
        e.entity,
        e.details ?? null,
        e.requestId ?? null,
        ids,
      ],
    );
  },
  async list(
    db: Queryable,
    list: ListParams,
    filter: { entity?: string; username?: string },
  ): Promise<Page<AuditEntry>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.entity) {
      params.push(filter.entity);
      where.push(`entity = $${params.length}`);
    }
    if (filter.username) {
      params.push(filter.username);
      where.push(`username = $${params.length}`);
    }
    return await listPage<AuditEntry>(db, {
      from: "audit_log",
      where,
      params,
      sortable: { id: "id", at: "at" },
      defaultSort: "id",
    }, list);
  },
};
