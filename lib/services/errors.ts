/**
 * What a service refuses, as values with a status and a code: the HTTP edge
 * (routes/http/errors.ts) answers them in the one error envelope, the pages show the message.
 */
export class ServiceError extends Error {
  override name = "ServiceError";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 429 | 503,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const notFound = (entity: string, id: number | string) =>
  new ServiceError(404, "NOT_FOUND", `${entity} ${id} not found`, { entity, id });

export const invalid = (field: string, message: string) =>
  new ServiceError(400, "VALIDATION_ERROR", `${field}: ${message}`, { field });

/** Something still uses the row: `what` names it for the message ("Device", "Plugin"). */
export const inUse = (
  what: string,
  count: number,
  users: string,
  details: Record<string, unknown>,
) => new ServiceError(400, "IN_USE", `${what} in use by ${count} ${users}(s)`, details);

/** The row, or a 404 naming it. */
export function found<T>(row: T | undefined | null, entity: string, id: number): T {
  if (row === undefined || row === null) throw notFound(entity, id);
  return row;
}
