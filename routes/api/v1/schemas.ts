/**
 * Schemas shared by every resource: ids, list parameters and the response envelopes. The same
 * zod objects validate requests and generate /api/v1/openapi.json.
 */
import { z } from "@hono/zod-openapi";

/** The largest value of a PostgreSQL integer column: every id and integer parameter fits. */
export const INT4_MAX = 2_147_483_647;

/** An id in a JSON body: a positive integer no larger than the id column holds. */
export const Id = z.number().int().positive().max(INT4_MAX);

/** An id in a query string (`?device_id=7`): 400 naming the parameter when out of range. */
export const IdQuery = z.coerce.number().int().positive().max(INT4_MAX);

export const IdParam = z.object({
  id: z.coerce.number().int().positive().max(INT4_MAX).openapi({
    param: { name: "id", in: "path" },
    example: 1,
  }),
});

export function listQuery<S extends string>(sortable: readonly [S, ...S[]]) {
  return z.object({
    limit: z.coerce.number().int().min(1).max(500).default(50).openapi({ example: 50 }),
    offset: z.coerce.number().int().min(0).max(INT4_MAX).default(0).openapi({ example: 0 }),
    sort: z.enum(sortable).optional(),
    order: z.enum(["asc", "desc"]).default("asc"),
  });
}

export const ErrorSchema = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string().openapi({ example: "VALIDATION_ERROR" }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  }),
}).openapi("Error");

export function envelope<T extends z.ZodType>(data: T) {
  return z.object({ success: z.literal(true), data });
}

export function listEnvelope<T extends z.ZodType>(item: T) {
  return z.object({
    success: z.literal(true),
    data: z.array(item),
    meta: z.object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int() }),
  });
}

const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

/** The error responses every authenticated route can give. */
export const commonErrors = {
  400: errorResponse("Validation error"),
  401: errorResponse("Missing, expired or invalid token"),
  403: errorResponse("The role may not do this"),
  503: errorResponse("The database is unavailable (code DATABASE_UNAVAILABLE); retry later"),
} as const;

export const notFoundError = { 404: errorResponse("No such resource") } as const;
export const conflictError = { 409: errorResponse("Conflict with existing data") } as const;
export const inUseError = { 400: errorResponse("Refused: the resource is in use") } as const;

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { content: { "application/json": { schema } }, required: true };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A timestamp that is always set (created_at, updated_at, at). */
export const Timestamp = z.union([z.string(), z.date()]).openapi({
  type: "string",
  format: "date-time",
});

/** A timestamp that is null until something happens (last_seen, last_polled, finished_at…). */
export const NullableTimestamp = z.string().openapi({ format: "date-time" }).nullable();
