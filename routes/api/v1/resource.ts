/**
 * The five routes of a resource (list, create, get, update, delete) from one description:
 * each handler parses the request, calls the entity's service and answers. What every resource
 * shares is derived here from its noun (path, tag, the list/get summaries, the 404), so a
 * description states only what is particular to it; the document still lists every operation.
 */
import { createRoute, type OpenAPIHono, type RouteConfig, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/env.ts";
import type { Services } from "../../../lib/services/mod.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import { requireRole } from "../../http/auth.ts";
import type { Actor } from "../../../lib/audit.ts";
import type { Page } from "../../../lib/db/pagination.ts";
import { commonErrors, dataResponse, errors, IdParam, jsonBody, pageResponse } from "./schemas.ts";

export type Responses = RouteConfig["responses"];

const security = [{ bearerAuth: [] }];

/**
 * A route that needs a bearer token: it answers `success`, the errors every authenticated route
 * can give (400, 401, 403, 503) and `more` (which may replace one of those).
 */
export function bearerRoute<const R extends Omit<RouteConfig, "security" | "responses">>(
  config: R,
  success: Responses,
  more: Responses = {},
) {
  const { method, path, tags, ...rest } = config;
  return createRoute({
    method,
    path,
    tags,
    security,
    ...rest,
    responses: { ...success, ...commonErrors, ...more },
  }) as unknown as R & { responses: Responses; getRoutingPath(): string };
}

interface Operation {
  summary: string;
  /** error responses beyond the common ones (400, 401, 403, 503) and, on an item, 404 */
  errors?: Responses;
}

/** What a resource's service offers; the routes a spec describes must exist on it. */
export interface ResourceService<Q, C, U> {
  list?(q: Q): Promise<Page<unknown>>;
  get?(id: number): Promise<unknown>;
  create?(actor: Actor, body: C): Promise<unknown>;
  update?(actor: Actor, id: number, body: U): Promise<unknown>;
  delete?(actor: Actor, id: number): Promise<void>;
}

export interface ResourceSpec<
  Q extends z.ZodType,
  C extends z.ZodType,
  U extends z.ZodType,
> {
  /**
   * "discovery profile": the tag "discovery profiles", the routes at /discovery-profiles and
   * /discovery-profiles/{id}, a 404 "discovery profile <id> not found", "The profile".
   */
  noun: string;
  /** the plural when it is not noun + "s" ("notification policies") */
  plural?: string;
  schema: z.ZodType;
  /** the entity's service (lib/services), which every handler calls */
  service: (services: Services) => ResourceService<z.infer<Q>, z.infer<C>, z.infer<U>>;
  /** summary: "List <noun>s" unless given */
  /** "admin only": requireRole("admin") on every route, and "(admin)" in every summary */
  adminOnly?: boolean;
  list?: Partial<Operation> & { query: Q };
  /** a create can always conflict with existing data (409) */
  create?: Operation & { body: C };
  /** summary: "Get a <noun>" unless given */
  get?: Partial<Operation>;
  update?: Operation & { body: U };
  delete?: Operation;
}

export function resourceRoutes<Q extends z.ZodType, C extends z.ZodType, U extends z.ZodType>(
  app: OpenAPIHono<AppEnv>,
  spec: ResourceSpec<Q, C, U>,
): void {
  const { noun, schema, list, create, get, update } = spec;
  const tags = [spec.plural ?? `${noun}s`];
  const path = `/${tags[0].replaceAll(" ", "-")}` as const;
  const item = `${path}/{id}`;
  if (spec.adminOnly) {
    app.use(path, requireRole("admin"));
    app.use(`${path}/*`, requireRole("admin"));
  }
  const summaryOf = (summary: string) =>
    spec.adminOnly ? summary.replace(/(;|$)/, " (admin)$1") : summary;
  const route = (
    method: "get" | "post" | "put" | "delete",
    at: string,
    op: Operation,
    request: Record<string, unknown>,
    success: Responses,
  ) =>
    bearerRoute({ method, path: at, tags, summary: summaryOf(op.summary), request }, success, {
      ...(at === item ? errors.notFound : {}),
      ...(method === "post" ? errors.conflict : {}),
      ...op.errors,
    });
  const valid = (c: Context, target: "param" | "query" | "json") =>
    (c.req as unknown as ValidIn).valid(target);
  const id = (c: Context) => valid(c, "param").id as number;
  const body = (c: Context) => valid(c, "json");
  const service = (c: Context<AppEnv>) => spec.service(c.get("app").services);

  if (list) {
    handle(
      app,
      route("get", path, { summary: `List ${tags[0]}`, ...list }, { query: list.query }, {
        200: pageResponse(schema),
      }),
      async (c) => okPage(c, await service(c).list!(valid(c, "query"))),
    );
  }
  if (create) {
    handle(
      app,
      route("post", path, create, { body: jsonBody(create.body) }, {
        201: dataResponse(schema, "Created"),
      }),
      async (c) => ok(c, await service(c).create!(actorOf(c), body(c)), 201),
    );
  }
  if (get) {
    const the = `The ${noun.split(" ").at(-1)}`;
    handle(
      app,
      route("get", item, { summary: `Get a ${noun}`, ...get }, { params: IdParam }, {
        200: dataResponse(schema, the),
      }),
      async (c) => ok(c, await service(c).get!(id(c)) ?? notFoundOf(noun, id(c))),
    );
  }
  if (update) {
    handle(
      app,
      route("put", item, update, { params: IdParam, body: jsonBody(update.body) }, {
        200: dataResponse(schema, "Updated"),
      }),
      async (c) => ok(c, await service(c).update!(actorOf(c), id(c), body(c))),
    );
  }
  const remove = spec.delete;
  if (remove) {
    handle(
      app,
      route("delete", item, remove, { params: IdParam }, { 204: { description: "Deleted" } }),
      async (c) => {
        await service(c).delete!(actorOf(c), id(c));
        return noContent(c);
      },
    );
  }
}

/** The validated parts of a request, typed by the route that validated them. */
interface ValidIn {
  // deno-lint-ignore no-explicit-any
  valid(target: "param" | "query" | "json"): any;
}

function notFoundOf(noun: string, id: number): never {
  throw notFound(noun, id);
}
