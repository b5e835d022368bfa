/**
 * POST /credential-profiles/{id}/test : identifies one host with a stored credential, so an
 * operator learns at once whether the account, port and TLS settings work. The answer is the
 * identity or the error's kind and message (WinRM errors never carry a secret).
 */
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { notFound } from "../../http/errors.ts";
import {
  commonErrors,
  envelope,
  IdParam,
  jsonBody,
  jsonResponse,
  notFoundError,
} from "./schemas.ts";
import { isIpv4 } from "../../../lib/discovery/targets.ts";
import {
  CredentialNotFoundError,
  decryptCredential,
} from "../../../lib/inventory/credential_profiles.ts";
import { identifyWindows } from "../../../lib/collectors/windows_winrm.ts";
import { WinrmError } from "../../../lib/winrm/errors.ts";
import { requireRole } from "../../http/auth.ts";

const TEST_TIMEOUT_MS = 20_000;

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
      const app = c.get("app");
      let credential;
      try {
        credential = await decryptCredential(app.db, app.keyring, id);
      } catch (err) {
        if (err instanceof CredentialNotFoundError) throw notFound("credential profile", id);
        throw err;
      }
      const started = performance.now();
      const result = { ok: false, ip, identity: null, error: null, duration_ms: 0 } as z.infer<
        typeof TestResult
      >;
      try {
        result.identity = await identifyWindows(
          ip,
          credential,
          AbortSignal.timeout(TEST_TIMEOUT_MS),
        );
        result.ok = true;
      } catch (err) {
        result.error = err instanceof WinrmError
          ? { kind: err.kind, message: err.message }
          : err instanceof DOMException && err.name === "TimeoutError"
          ? { kind: "timeout", message: `no answer within ${TEST_TIMEOUT_MS / 1000} s` }
          : { kind: "unexpected", message: err instanceof Error ? err.message : String(err) };
      }
      result.duration_ms = Math.round(performance.now() - started);
      return ok(c, result);
    },
  );
}
