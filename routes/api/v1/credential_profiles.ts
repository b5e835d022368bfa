import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, noContent, ok, okPage } from "../../http/define.ts";
import { ApiError, notFound } from "../../http/errors.ts";
import { actorOf } from "../../http/actor.ts";
import {
  commonErrors,
  conflictError,
  envelope,
  IdParam,
  inUseError,
  jsonBody,
  jsonResponse,
  listEnvelope,
  listQuery,
  notFoundError,
  Timestamp,
} from "./schemas.ts";
import { getByIdRoute } from "./get_by_id.ts";
import { credentialProfilesRepo } from "../../../lib/db/credential_profiles.ts";
import {
  CredentialRuleError,
  toCredentialWrite,
} from "../../../lib/inventory/credential_profiles.ts";
import { audit } from "../../../lib/audit.ts";

const TYPES = ["winrm_basic", "winrm_ntlm", "wmi"] as const;
const TLS_VERIFY = ["system", "pinned", "insecure"] as const;

const CredentialProfile = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.enum(TYPES),
  username: z.string(),
  domain: z.string().nullable(),
  port: z.number().int(),
  use_ssl: z.boolean(),
  tls_verify: z.enum(TLS_VERIFY),
  tls_ca_pem: z.string().nullable(),
  allow_unencrypted: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("CredentialProfile");

const pem = z.string().max(65_536).regex(
  /-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----/,
  "must be a PEM certificate",
);

const CreateBody = z.object({
  name: z.string().trim().min(1).max(100).openapi({ example: "Windows admins" }),
  type: z.enum(TYPES).openapi({ example: "winrm_ntlm" }),
  username: z.string().trim().min(1).max(256).openapi({ example: "Administrator" }),
  password: z.string().min(1).max(1024).openapi({ example: "P@ssw0rd!", writeOnly: true }),
  domain: z.string().trim().max(256).nullable().optional().openapi({ example: "CORP" }),
  port: z.number().int().min(1).max(65535).optional().openapi({
    description: "defaults to 5986 with use_ssl, 5985 without",
  }),
  use_ssl: z.boolean().optional(),
  tls_verify: z.enum(TLS_VERIFY).optional().openapi({
    description: "system CAs, a pinned CA/certificate (tls_ca_pem), or no verification",
  }),
  tls_ca_pem: pem.nullable().optional(),
  allow_unencrypted: z.boolean().optional().openapi({
    description: "allow Basic authentication over plain HTTP",
  }),
}).strict().openapi("CredentialProfileCreate");

const UpdateBody = CreateBody.partial().strict().openapi("CredentialProfileUpdate");

const ListQuery = listQuery(["id", "name", "type", "created_at"]).extend({
  q: z.string().max(100).optional(),
});

export function registerCredentialProfileRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["credential profiles"];
  const security = [{ bearerAuth: [] }];

  handle(
    app,
    createRoute({
      method: "get",
      path: "/credential-profiles",
      tags,
      security,
      summary: "List credential profiles (passwords are never returned)",
      request: { query: ListQuery },
      responses: { 200: jsonResponse(listEnvelope(CredentialProfile), "A page"), ...commonErrors },
    }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(c, await credentialProfilesRepo.list(c.get("app").db, q, q.q));
    },
  );

  handle(
    app,
    createRoute({
      method: "post",
      path: "/credential-profiles",
      tags,
      security,
      summary: "Create a credential profile; the password is encrypted at rest",
      request: { body: jsonBody(CreateBody) },
      responses: {
        201: jsonResponse(envelope(CredentialProfile), "Created"),
        ...commonErrors,
        ...conflictError,
      },
    }),
    async (c) => {
      const { db, keyring } = c.get("app");
      const write = await toWrite(() => toCredentialWrite(keyring, c.req.valid("json")));
      const created = await db.transaction(async (tx) => {
        const row = await credentialProfilesRepo.create(tx, write);
        await audit(tx, actorOf(c), "create", "credential_profile", row.id, { name: row.name });
        return row;
      });
      return ok(c, created, 201);
    },
  );

  getByIdRoute(app, {
    path: "/credential-profiles/{id}",
    tags,
    summary: "Get a credential profile",
    schema: CredentialProfile,
    description: "The profile",
    noun: "credential profile",
    get: (db, id) => credentialProfilesRepo.get(db, id),
  });

  handle(
    app,
    createRoute({
      method: "put",
      path: "/credential-profiles/{id}",
      tags,
      security,
      summary: "Update a credential profile; fields left out keep their value (the password too)",
      request: { params: IdParam, body: jsonBody(UpdateBody) },
      responses: {
        200: jsonResponse(envelope(CredentialProfile), "Updated"),
        ...commonErrors,
        ...notFoundError,
        ...conflictError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { db, keyring } = c.get("app");
      const body = c.req.valid("json");
      const updated = await db.transaction(async (tx) => {
        const existing = await credentialProfilesRepo.getSecret(tx, id);
        if (!existing) throw notFound("credential profile", id);
        const write = await toWrite(() => toCredentialWrite(keyring, body, existing));
        const row = await credentialProfilesRepo.update(tx, id, write);
        await audit(tx, actorOf(c), "update", "credential_profile", id, {
          fields: Object.keys(body),
        });
        return row;
      });
      c.get("app").events.emit({ entity: "credential_profile", id, action: "updated" });
      return ok(c, updated);
    },
  );

  handle(
    app,
    createRoute({
      method: "delete",
      path: "/credential-profiles/{id}",
      tags,
      security,
      summary: "Delete a credential profile not used by any monitor or discovery profile",
      request: { params: IdParam },
      responses: {
        204: { description: "Deleted" },
        ...commonErrors,
        ...inUseError,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      await c.get("app").db.transaction(async (tx) => {
        if (!await credentialProfilesRepo.get(tx, id)) throw notFound("credential profile", id);
        const usage = await credentialProfilesRepo.usage(tx, id);
        if (usage.monitors > 0) {
          throw new ApiError(
            400,
            "IN_USE",
            `Credential Profile in use by ${usage.monitors} monitor(s)`,
            usage,
          );
        }
        if (usage.discovery_profiles > 0) {
          throw new ApiError(
            400,
            "IN_USE",
            `Credential Profile in use by ${usage.discovery_profiles} discovery profile(s)`,
            usage,
          );
        }
        await credentialProfilesRepo.delete(tx, id);
        await audit(tx, actorOf(c), "delete", "credential_profile", id);
      });
      return noContent(c);
    },
  );
}

async function toWrite<T>(build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (e) {
    if (e instanceof CredentialRuleError) {
      throw new ApiError(400, "VALIDATION_ERROR", `${e.field}: ${e.message}`, { field: e.field });
    }
    throw e;
  }
}
