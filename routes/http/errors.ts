/**
 * Errors are values with a status, turned into the one error envelope in one place
 * (`errorResponse`). Messages are written for the API user; internals stay in the log.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";
import { getLogger } from "@logtape/logtape";
import { ServiceError } from "../../lib/services/errors.ts";

export { invalid as validationError, notFound } from "../../lib/services/errors.ts";

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

const STATUS_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  429: "TOO_MANY_REQUESTS",
};

const log = getLogger(["nmslite", "http"]);

export function errorBody(code: string, message: string, details?: Record<string, unknown>) {
  return { success: false as const, error: { code, message, details: details ?? {} } };
}

export function zodErrorBody(error: ZodError) {
  const issues = error.issues.map((i) => ({
    field: i.path.join(".") || "(body)",
    message: i.message,
  }));
  const first = issues[0];
  return errorBody("VALIDATION_ERROR", `${first.field}: ${first.message}`, {
    field: first.field,
    issues,
  });
}

export function errorResponse(err: unknown, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message, err.details), err.status, err.headers);
  }
  if (err instanceof ServiceError) {
    const retryAfter = err.details?.retry_after_seconds;
    const headers = retryAfter === undefined ? undefined : { "retry-after": String(retryAfter) };
    return c.json(errorBody(err.code, err.message, err.details), err.status, headers);
  }
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const message = status === 400 && /JSON/i.test(err.message)
      ? "request body is not valid JSON"
      : err.message || "request failed";
    return c.json(errorBody(STATUS_CODES[status] ?? "ERROR", message), status);
  }
  if (isUniqueViolation(err)) {
    const detail = (err as { detail?: string }).detail ?? "";
    const field = /Key \(([^)]+)\)/.exec(detail)?.[1];
    return c.json(
      errorBody(
        "CONFLICT",
        field ? `${field} is already in use` : "a unique value is already in use",
        field ? { field } : {},
      ),
      409,
    );
  }
  log.error("unhandled error: {error}", { error: describe(err) });
  return c.json(errorBody("INTERNAL_ERROR", "internal server error"), 500);
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === "23505";
}

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}\n${err.stack ?? ""}`;
  return String(err);
}
