/**
 * The poller nodes' side of the API, authenticated by the node credential (not a user token):
 * enrol (public: the enrolment token is the proof), the server-sent-events channel, heartbeat,
 * command reports and result ingest. A node's credential opens these routes and nothing else;
 * a user's token opens none of them. Described in docs/deploy.md; the shapes are
 * lib/nodes/protocol.ts.
 */
import {
  HeartbeatBody,
  IngestBodyError,
  validateIngestBody,
} from "../../../lib/nodes/ingest_body.ts";
import { Hono } from "hono";
import type { Context, MiddlewareHandler } from "hono";
import { getConnInfo } from "hono/deno";
import { gunzipSync } from "node:zlib";
import { z } from "zod";
import type { AppEnv } from "../../http/env.ts";
import { ApiError } from "../../http/errors.ts";
import { NodeAuthError } from "../../../lib/services/poller_nodes.ts";
import { arrivedOverHttps } from "../../../lib/web/cookies.ts";

/** Paths served here, kept out of the user authentication in mod.ts. */
export const NODE_PATHS = new Set([
  "/api/v1/nodes/enrol",
  "/api/v1/nodes/channel",
  "/api/v1/nodes/heartbeat",
  "/api/v1/nodes/report",
  "/api/v1/ingest",
]);

const EnrolBody = z.object({
  token: z.string().min(10).max(200),
  version: z.string().max(64).default("unknown"),
}).strict();

const ReportBody = z.object({
  id: z.string().uuid(),
  ok: z.boolean(),
  partial: z.boolean().optional(),
  result: z.unknown().optional(),
  error: z.object({ kind: z.string().max(100), message: z.string().max(2000) }).optional(),
}).strict();

async function parse<T extends z.ZodType>(c: Context<AppEnv>, schema: T): Promise<z.infer<T>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, "MALFORMED_BATCH", "the request body is not JSON");
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const at = issue.path.join(".");
    throw new ApiError(
      400,
      "VALIDATION_ERROR",
      `${at || "body"}: ${issue.message}`,
      { field: at },
    );
  }
  return result.data;
}

const utf8 = new TextDecoder();

/**
 * The JSON of an ingest body, sent as is or gzip-compressed (`Content-Encoding: gzip`: a
 * node's request then fits a TCP segment or two instead of dozens, and each segment costs the
 * central a wake-up). Decompressed, the body may not exceed the body limit either.
 */
async function ingestJson(c: Context<AppEnv>): Promise<unknown> {
  const encoding = (c.req.header("content-encoding") ?? "identity").trim().toLowerCase();
  let text: string;
  if (encoding === "identity") {
    text = await c.req.text();
  } else if (encoding === "gzip") {
    const limit = c.get("app").config.server.body_limit_bytes;
    const zipped = new Uint8Array(await c.req.arrayBuffer());
    try {
      text = utf8.decode(gunzipSync(zipped, { maxOutputLength: limit }));
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
        throw new ApiError(
          413,
          "PAYLOAD_TOO_LARGE",
          `the decompressed request body exceeds ${limit} bytes`,
          { limit },
        );
      }
      throw new ApiError(400, "MALFORMED_BATCH", "the request body is not valid gzip");
    }
  } else {
    throw new ApiError(
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      `content-encoding ${JSON.stringify(encoding.slice(0, 40))} is not accepted: ` +
        "send the body as is or gzip-compressed",
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, "MALFORMED_BATCH", "the request body is not JSON");
  }
}

/** The node behind the bearer credential; 401 naming why when there is none. */
function nodeAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (!match) throw new ApiError(401, "NODE_CREDENTIAL_MISSING", "a node credential is required");
    try {
      c.set("node", await c.get("app").services.pollerNodes.authenticate(match[1]));
    } catch (err) {
      if (err instanceof NodeAuthError) throw new ApiError(401, err.code, err.message);
      throw err;
    }
    await next();
  };
}

function overTls(c: Context<AppEnv>): boolean {
  let remoteAddress: string | undefined;
  try {
    remoteAddress = getConnInfo(c).remote.address;
  } catch { /* in-process request */ }
  return arrivedOverHttps(
    { url: c.req.url, remoteAddress, forwardedProto: c.req.header("x-forwarded-proto") },
    c.get("app").config.server.trusted_proxies,
  );
}

export function createNodeProtocol(): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.post("/nodes/enrol", async (c) => {
    const body = await parse(c, EnrolBody);
    const { node, secret } = await c.get("app").services.pollerNodes.enrol(
      body.token,
      body.version,
    );
    return c.json({
      success: true,
      data: { node_id: node.id, site_id: node.site_id, name: node.name, secret },
    });
  });
  app.use("/nodes/channel", nodeAuth());
  app.use("/nodes/heartbeat", nodeAuth());
  app.use("/nodes/report", nodeAuth());
  app.use("/ingest", nodeAuth());
  app.get("/nodes/channel", async (c) => {
    const stream = await c.get("app").nodeHub.open(c.get("node"), overTls(c));
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  });
  app.post("/nodes/heartbeat", async (c) => {
    const body = await parse(c, HeartbeatBody);
    await c.get("app").nodeHub.heartbeat(c.get("node"), body.version, body.stats);
    return c.json({ success: true, data: { ok: true } });
  });
  app.post("/nodes/report", async (c) => {
    const body = await parse(c, ReportBody);
    const known = c.get("app").nodeHub.report(body);
    return c.json({ success: true, data: { accepted: known } });
  });
  app.post("/ingest", async (c) => {
    const raw = await ingestJson(c);
    let body;
    try {
      body = validateIngestBody(raw);
    } catch (err) {
      if (err instanceof IngestBodyError) {
        throw new ApiError(400, "MALFORMED_BATCH", err.message, { field: err.field });
      }
      throw err;
    }
    const node = c.get("node");
    if (body.heartbeat) {
      c.get("app").nodeHub.noteReport(node, body.heartbeat.version, body.heartbeat.stats);
    }
    const result = await c.get("app").ingest.ingest(node, body.batches);
    return c.json({ success: true, data: result });
  });
  return app;
}
