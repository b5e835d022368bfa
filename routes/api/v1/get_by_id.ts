/**
 * `GET /<resources>/{id}`: one row by id, 404 when there is none. Every resource reads the
 * same way, so they share this; the schema and summary still document each one.
 */
import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { notFound } from "../../http/errors.ts";
import { commonErrors, envelope, IdParam, jsonResponse, notFoundError } from "./schemas.ts";
import type { Queryable } from "../../../lib/db/driver.ts";

export function getByIdRoute(
  app: OpenAPIHono<AppEnv>,
  opts: {
    path: `/${string}/{id}`;
    tags: string[];
    summary: string;
    schema: z.ZodType;
    /** the 200 response's description */
    description: string;
    /** what the 404 names: "no such <noun> <id>" */
    noun: string;
    get: (db: Queryable, id: number) => Promise<unknown>;
  },
): void {
  handle(
    app,
    createRoute({
      method: "get",
      path: opts.path,
      tags: opts.tags,
      security: [{ bearerAuth: [] }],
      summary: opts.summary,
      request: { params: IdParam },
      responses: {
        200: jsonResponse(envelope(opts.schema), opts.description),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const row = await opts.get(c.get("app").db, id);
      if (!row) throw notFound(opts.noun, id);
      return ok(c, row);
    },
  );
}
