/**
 * The JSON API under /api/v1: middleware order is request id + log, body limit, then
 * authentication for everything but login/refresh/logout, the OpenAPI document and its page.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import type { AppEnv } from "../../http/env.ts";
import { ApiError, errorResponse, validationHook } from "../../http/errors.ts";
import { authenticate, viewersReadOnly } from "../../http/auth.ts";
import { registerAuthRoutes } from "./auth.ts";
import { registerAccountRoutes, SELF_SERVICE_PATHS } from "./account.ts";
import { registerUserRoutes } from "./users.ts";
import { registerCredentialProfileRoutes } from "./credential_profiles.ts";
import { registerCredentialTestRoute } from "./credential_check.ts";
import { registerDiscoveryProfileRoutes } from "./discovery_profiles.ts";
import { registerDiscoveryRunRoutes } from "./discovery_runs.ts";
import { registerDeviceRoutes } from "./devices.ts";
import { registerPluginRoutes } from "./plugins.ts";
import { registerMonitorRoutes } from "./monitors.ts";
import { registerMetricsRoutes } from "./metrics.ts";
import { registerAuditLogRoutes } from "./audit_log.ts";
import { registerHealthRoute } from "./health.ts";
import { registerDeviceDepthRoutes } from "./device_depth.ts";
import { registerAlertingRoutes } from "./alerting.ts";
import { registerNotificationRoutes } from "./notifications.ts";
import { renderDocsPage } from "./docs_page.ts";
import { VERSION } from "../../../lib/version.ts";
import { registerSiteRoutes } from "./sites.ts";
import { registerPollerNodeRoutes } from "./poller_nodes.ts";
import { createNodeProtocol, NODE_PATHS } from "./node_protocol.ts";

const PUBLIC_PATHS = new Set([
  "/api/v1/auth/login",
  "/api/v1/auth/refresh",
  "/api/v1/auth/logout",
  "/api/v1/openapi.json",
  "/api/v1/docs",
  "/api/v1/health",
]);

const SELF_SERVICE = new Set<string>(SELF_SERVICE_PATHS);

export function createApiV1(bodyLimitBytes: number): OpenAPIHono<AppEnv> {
  const api = new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => validationHook(result, c),
  });
  api.onError(errorResponse);
  api.notFound((c) =>
    errorResponse(new ApiError(404, "NOT_FOUND", `no route ${c.req.method} ${c.req.path}`), c)
  );
  api.use(
    "*",
    bodyLimit({
      maxSize: bodyLimitBytes,
      onError: () => {
        throw new ApiError(
          413,
          "PAYLOAD_TOO_LARGE",
          `request body exceeds ${bodyLimitBytes} bytes`,
          { limit_bytes: bodyLimitBytes },
          // The body is left unread: the connection closes after this answer (lib/web/serve.ts)
          // rather than stay open with the client's bytes pending.
          { connection: "close" },
        );
      },
    }),
  );
  // The API reads bodies as they come: a compressed one would be parsed as garbage (or, where
  // it happened to be JSON, taken without its declared encoding). Only a node's ingest body
  // may be gzip (routes/api/v1/node_protocol.ts).
  api.use("*", async (c, next) => {
    const encoding = c.req.header("content-encoding")?.trim().toLowerCase();
    if (encoding && encoding !== "identity" && c.req.path !== "/api/v1/ingest") {
      throw new ApiError(
        415,
        "UNSUPPORTED_MEDIA_TYPE",
        `Content-Encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted here: ` +
          "send the body uncompressed",
      );
    }
    await next();
  });
  const auth = authenticate();
  const readOnly = viewersReadOnly();
  api.use("*", async (c, next) => {
    if (PUBLIC_PATHS.has(c.req.path) || NODE_PATHS.has(c.req.path)) return await next();
    await auth(c, async () => {
      if (SELF_SERVICE.has(c.req.path)) return await next();
      await readOnly(c, next);
    });
  });

  registerHealthRoute(api);
  registerAuthRoutes(api);
  registerAccountRoutes(api);
  registerUserRoutes(api);
  registerCredentialProfileRoutes(api);
  registerCredentialTestRoute(api);
  registerDiscoveryProfileRoutes(api);
  registerDiscoveryRunRoutes(api);
  registerDeviceRoutes(api);
  registerPluginRoutes(api);
  registerMonitorRoutes(api);
  registerMetricsRoutes(api);
  registerAuditLogRoutes(api);
  registerSiteRoutes(api);
  registerPollerNodeRoutes(api);
  api.route("/", createNodeProtocol());
  registerDeviceDepthRoutes(api);
  registerAlertingRoutes(api);
  registerNotificationRoutes(api);

  api.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  const documentConfig = {
    openapi: "3.0.3",
    info: {
      title: "NMSlite API",
      version: VERSION,
      description: "Agentless Windows monitoring. Every response is {success, data} or " +
        "{success:false, error:{code, message, details}}.",
    },
    servers: [{ url: "/api/v1" }],
  };
  api.doc("/openapi.json", documentConfig);
  api.get("/docs", (c) => c.html(renderDocsPage(api.getOpenAPIDocument(documentConfig))));
  return api;
}
