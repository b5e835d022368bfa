/** The audit trail: who changed what, when. Details never carry secrets. */
import type { Queryable } from "./db/driver.ts";
import { auditLogRepo } from "./db/audit_log.ts";

export interface Actor {
  userId: number | null;
  username: string | null;
  requestId?: string;
}

/** Changes NMSlite makes on its own (health, discovery) are recorded without a user. */
export const SYSTEM: Actor = { userId: null, username: null };

export async function audit(
  db: Queryable,
  actor: Actor,
  action:
    | "create"
    | "update"
    | "delete"
    | "login"
    | "logout"
    | "run"
    | "cancel"
    | "status"
    | string,
  entity: string,
  entityId: number | string | null,
  details?: Record<string, unknown>,
): Promise<void> {
  await auditLogRepo.record(db, { ...entry(actor, action, entity, details), entityId });
}

/** `audit` of the same change to each of many entities, in one statement. */
export async function auditEach(
  db: Queryable,
  actor: Actor,
  action: string,
  entity: string,
  ids: number[],
  details?: Record<string, unknown>,
): Promise<void> {
  await auditLogRepo.recordEach(db, entry(actor, action, entity, details), ids);
}

function entry(actor: Actor, action: string, entity: string, details?: Record<string, unknown>) {
  return {
    userId: actor.userId,
    username: actor.username,
    action,
    entity,
    details: details ?? null,
    requestId: actor.requestId ?? null,
  };
}
