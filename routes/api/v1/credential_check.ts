/**
 * POST /credential-profiles/{id}/test : identifies one host with a stored credential, so an
 * operator learns at once whether the account, port and TLS settings work. The answer is the
 * identity or the error's kind and message (WinRM errors never carry a secret).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import {
  commonErrors,
  envelope,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundError,
} from "./schemas.ts";
import { isIpv4 } from "../../../lib/discovery/targets.ts";
import { requireRole } from "../../http/auth.ts";
import { actorOf } from "../../http/actor.ts";

const TestBody = z.object({
  ip: z.string().trim().refine(isIpv4, "must be a valid IPv4 address").openapi({
    example: "192.168.1.10",
  }),
}).strict().openapi("CredentialTestRequest");

const TestResult = z.object({
  ok: z.boolean(),
  ip: z.string(),
  identity: z.object({
    hostname: z.string().nullable(),
    domain: z.string().nullable(),
    os: z.string().nullable(),
    version: z.string().nullable(),
    build: z.string().nullable(),
    serial: z.string().nullable(),
    totalMemoryBytes: z.number().nullable(),
  }).nullable(),
  error: z.object({ kind: z.string(), message: z.string() }).nullable(),
  duration_ms: z.number().int(),
}).openapi("CredentialTestResult");

export function registerCredentialTestRoute(app: OpenAPIHono<AppEnv>): void {
  app.use("/credential-profiles/:id/test", requireRole("admin", "operator"));
  handle(
    app,
    createRoute({
      method: "post",
      path: "/credential-profiles/{id}/test",
      tags: ["credential profiles"],
      security: [{ bearerAuth: [] }],
      summary: "Try a credential profile against one IP (runs identify over WinRM)",
      description: "Operators may test against known devices only; any other address needs an " +
        "admin. Basic credentials are never sent over plain HTTP. Every test is audited.",
      request: { params: IdParam, body: jsonBody(TestBody) },
      responses: {
        200: jsonResponse(envelope(TestResult), "ok with the identity, or the error"),
        ...commonErrors,
        ...notFoundError,
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const { ip } = c.req.valid("json");
      const anyAddress = c.get("user").role === "admin";
      const tests = c.get("app").services.credentialProfiles;
      return ok(c, await tests.test(actorOf(c), id, ip, { anyAddress }));
    },
  );
}
