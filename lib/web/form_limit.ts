/**
 * A cap on form bodies (login, logout), enforced before the body is parsed: a declared
 * Content-Length over the cap is refused at once, a chunked body as soon as it passes it.
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";

/** Login and logout forms are a few hundred bytes. */
export const FORM_LIMIT_BYTES = 16 * 1024;

export function formLimit(maxSize = FORM_LIMIT_BYTES): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    // the rest of the body stays unread: close the connection after the answer (serve.ts)
    onError: (c) => c.text(`request body exceeds ${maxSize} bytes`, 413, { connection: "close" }),
  });
}
