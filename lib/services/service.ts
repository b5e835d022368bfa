/**
 * What every entity service shares: a change runs in one transaction with its audit record,
 * and the change event goes out only after it has committed.
 */
import type { Database, Queryable } from "../db/driver.ts";
import type { EntityEvent, EntityEvents } from "../entity_events.ts";

export interface ServiceDeps {
  db: Database;
  events: EntityEvents;
}

export async function change<T>(
  deps: ServiceDeps,
  work: (tx: Queryable) => Promise<T>,
  event?: (result: T) => EntityEvent,
): Promise<T> {
  const result = await deps.db.transaction(work);
  if (event) deps.events.emit(event(result));
  return result;
}
