/**
 * POST /credential-profiles/{id}/test : identifies one host with a stored credential, so an
 * operator learns at once whether the account, port and TLS settings work. The answer is the
 * identity or the error's kind and message (WinRM errors never carry a secret).
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { dataResponse, errors, Id, IdParam, Ipv4, jsonBody, nullableText } from "./schemas.ts";
import { bearerRoute } from "./resource.ts";
import { requireRole } from "../../http/auth.ts";
import { actorOf } from "../../http/actor.ts";

const TestBody = z.object({
  ip: Ipv4,
  site_id: Id.optional().openapi({
    description: "where to test an address that is not a device yet (default 1, local); a " +
      "device is tested from its own site, by one of the site's poller nodes",
  }),
}).strict().openapi("CredentialTestRequest");

const TestResult = z.object({
  ok: z.boolean(),
  ip: z.string(),
  identity: z.object({
    ...nullableText("hostname", "domain", "os", "version", "build", "serial"),
    totalMemoryBytes: z.number().nullable(),
  }).nullable(),
  error: z.object({ kind: z.string(), message: z.string() }).nullable(),
  duration_ms: z.number().int(),
}).openapi("CredentialTestResult");

export function registerCredentialTestRoute(app: OpenAPIHono<AppEnv>): void {
  app.use("/credential-profiles/:id/test", requireRole("admin", "operator"));
  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/credential-profiles/{id}/test",
        tags: ["credential profiles"],
        summary: "Try a credential profile against one IP (runs identify over WinRM)",
        description: "Operators may test against known devices only; any other address needs " +
          "an admin. Basic credentials are never sent over plain HTTP. Every test is audited.",
        request: { params: IdParam, body: jsonBody(TestBody) },
      },
      { 200: dataResponse(TestResult, "ok with the identity, or the error") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const { ip, site_id } = c.req.valid("json");
      const anyAddress = c.get("user").role === "admin";
      const tests = c.get("app").services.credentialProfiles;
      return ok(c, await tests.test(actorOf(c), id, ip, { anyAddress, siteId: site_id }));
    },
  );
}
