/**
 * The five routes of a resource (list, create, get, update, delete) from one description:
 * each handler parses the request, calls the entity's service and answers. The summaries,
 * schemas and error responses still document every operation one by one.
 */
import { createRoute, type OpenAPIHono, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../../http/env.ts";
import type { Services } from "../../../lib/services/mod.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import type { Actor } from "../../../lib/audit.ts";
import type { Page } from "../../../lib/db/pagination.ts";
import {
  commonErrors,
  envelope,
  IdParam,
  jsonBody,
  jsonResponse,
  listEnvelope,
  notFoundError,
} from "./schemas.ts";

type Responses = Record<number, { description: string; content?: unknown }>;

interface Operation {
  summary: string;
  /** error responses beyond the common ones (400, 401, 403) */
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
  /** "/monitors": the item routes are at "/monitors/{id}" */
  path: `/${string}`;
  tags: string[];
  /** what a 404 names: "<noun> <id> not found" */
  noun: string;
  schema: z.ZodType;
  /** the entity's service (lib/services), which every handler calls */
  service: (services: Services) => ResourceService<z.infer<Q>, z.infer<C>, z.infer<U>>;
  list?: Operation & { query: Q };
  create?: Operation & { body: C };
  get?: Operation & { description: string };
  update?: Operation & { body: U };
  delete?: Operation;
}

const security = [{ bearerAuth: [] }];

export function resourceRoutes<Q extends z.ZodType, C extends z.ZodType, U extends z.ZodType>(
  app: OpenAPIHono<AppEnv>,
  spec: ResourceSpec<Q, C, U>,
): void {
  const { path, tags, schema } = spec;
  const item = `${path}/{id}`;
  const route = (
    method: "get" | "post" | "put" | "delete",
    at: string,
    op: Operation,
    request: Record<string, unknown>,
    success: Responses,
  ) =>
    createRoute({
      method,
      path: at,
      tags,
      security,
      summary: op.summary,
      request,
      responses: { ...success, ...commonErrors, ...op.errors },
    });
  const valid = (c: Context, target: "param" | "query" | "json") =>
    (c.req as unknown as ValidIn).valid(target);
  const id = (c: Context) => valid(c, "param").id as number;
  const body = (c: Context) => valid(c, "json");
  const service = (c: Context<AppEnv>) => spec.service(c.get("app").services);

  const { list, create, get, update } = spec;
  if (list) {
    handle(
      app,
      route("get", path, list, { query: list.query }, {
        200: jsonResponse(listEnvelope(schema), "A page"),
      }),
      async (c) => okPage(c, await service(c).list!(valid(c, "query"))),
    );
  }
  if (create) {
    handle(
      app,
      route("post", path, create, { body: jsonBody(create.body) }, {
        201: jsonResponse(envelope(schema), "Created"),
      }),
      async (c) => ok(c, await service(c).create!(actorOf(c), body(c)), 201),
    );
  }
  if (get) {
    handle(
      app,
      route("get", item, { ...get, errors: notFoundError }, { params: IdParam }, {
        200: jsonResponse(envelope(schema), get.description),
      }),
      async (c) => ok(c, await service(c).get!(id(c)) ?? notFoundOf(spec.noun, id(c))),
    );
  }
  if (update) {
    handle(
      app,
      route("put", item, update, { params: IdParam, body: jsonBody(update.body) }, {
        200: jsonResponse(envelope(schema), "Updated"),
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
