/**
 * One JSON log line per request, and the request id (echoed `x-request-id`, or a new one) on
 * every log line written while the request runs (LogTape implicit context).
 */
import type { MiddlewareHandler } from "hono";
import { getLogger, withContext } from "@logtape/logtape";
import type { AppEnv } from "./env.ts";

const log = getLogger(["nmslite", "http"]);
const VALID_ID = /^[\w.:-]{1,128}$/;

export function requestLog(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && VALID_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", requestId);
    const started = performance.now();
    await withContext({ requestId }, async () => {
      await next();
      c.header("x-request-id", requestId);
      const status = c.res.status;
      const fields = {
        method: c.req.method,
        path: c.req.path,
        status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        user: c.var.user?.username,
      };
      if (status >= 500) log.error("request {method} {path} {status}", fields);
      else log.info("request {method} {path} {status}", fields);
    });
  };
}
