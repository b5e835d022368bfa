/**
 * Notification channels and policies (admin only: they hold secrets and decide who is woken),
 * "send a test", and the dead-letter list of the outbox.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import {
  dataResponse,
  errors,
  Id,
  IdParam,
  listQuery,
  NullableTimestamp,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";
import { requireRole } from "../../http/auth.ts";
import { SEVERITIES, type Severity } from "../../../lib/alerting/notification.ts";
import { outboxRepo } from "../../../lib/db/notifications.ts";

const TYPE = z.enum(["webhook", "email", "alertmanager"]);
const SEVERITY = z.enum(SEVERITIES as unknown as readonly [Severity, ...Severity[]]);

const Channel = z.object({
  id: z.number().int(),
  name: z.string(),
  type: TYPE,
  settings: z.record(z.string(), z.unknown()),
  secrets_set: z.array(z.string()).openapi({
    description: "names of the secret settings that are set; values are never returned",
  }),
  enabled: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("NotificationChannel");

const ChannelBody = z.object({
  name: z.string().trim().min(1).max(100),
  type: TYPE,
  settings: z.record(z.string(), z.unknown()).openapi({
    description: "webhook: url, preset, template, timeoutMs, tlsVerify, caPem; email: host, " +
      "port, security, from, to, username, subjectTemplate, bodyTemplate; alertmanager: url, " +
      "auth, username, extraLabels",
  }),
  secrets: z.record(z.string(), z.unknown()).optional().openapi({
    description: "write-only (webhook: hmacSecret, headers; email: password; alertmanager: " +
      "password or token). On update a secret left out keeps its value; null removes it",
  }),
  enabled: z.boolean().optional(),
}).strict().openapi("NotificationChannelWrite");

const Outcome = z.object({
  ok: z.boolean(),
  status: z.string(),
  retryable: z.boolean().optional(),
  detail: z.string().optional(),
  durationMs: z.number(),
}).openapi("DeliveryOutcome");

const Policy = z.object({
  id: z.number().int(),
  name: z.string(),
  channel_id: z.number().int(),
  min_severity: SEVERITY,
  tag: z.string().nullable(),
  repeat_interval_s: z.number().int().nullable(),
  send_resolved: z.boolean(),
  enabled: z.boolean(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("NotificationPolicy");

const PolicyBody = z.object({
  name: z.string().trim().min(1).max(100),
  channel_id: Id,
  min_severity: SEVERITY.default("info"),
  tag: z.string().trim().min(1).max(64).nullable().default(null).openapi({
    description: "only problems of devices with this tag; null for every device",
  }),
  repeat_interval_s: z.number().int().min(1).max(30 * 86_400).nullable().default(null).openapi({
    description: "repeat an unacknowledged problem this often; null: never",
  }),
  send_resolved: z.boolean().default(true),
  enabled: z.boolean().default(true),
}).strict().openapi("NotificationPolicyWrite");

const DeadLetter = z.object({
  id: z.number().int(),
  problem_id: z.number().int().nullable(),
  channel_id: z.number().int(),
  idempotency_key: z.string(),
  kind: z.string(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  created_at: Timestamp,
  next_attempt_at: NullableTimestamp,
}).openapi("DeadLetter");

export function registerNotificationRoutes(app: OpenAPIHono<AppEnv>): void {
  resourceRoutes(app, {
    noun: "notification channel",
    schema: Channel,
    adminOnly: true,
    service: (s) => s.notificationChannels,
    list: { query: listQuery(["id", "name", "type"]) },
    create: {
      summary: "Create a notification channel (webhook, email, Alertmanager)",
      body: ChannelBody,
    },
    get: {},
    update: {
      summary: "Replace a channel's settings; secrets left out are kept",
      body: ChannelBody,
    },
    delete: { summary: "Delete a channel, its policies and its queued notifications" },
  });
  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/notification-channels/{id}/test",
        tags: ["notification channels"],
        summary: "Send a test notification through the channel now (admin)",
        request: { params: IdParam },
      },
      { 200: dataResponse(Outcome, "How the attempt went") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, await c.get("app").services.notificationChannels.test(actorOf(c), id));
    },
  );
  resourceRoutes(app, {
    noun: "notification policy",
    plural: "notification policies",
    schema: Policy,
    adminOnly: true,
    service: (s) => s.notificationPolicies,
    list: { query: listQuery(["id", "name"]) },
    create: {
      summary: "Create a policy: which problems (severity, tag) go to a channel, how often",
      body: PolicyBody,
    },
    get: {},
    update: { summary: "Replace a notification policy", body: PolicyBody },
    delete: { summary: "Delete a notification policy" },
  });
  // admin only, as the channels they were meant for (their errors name the channels' targets)
  // and the dashboard's list of them
  app.use("/notification-dead-letters", requireRole("admin"));
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/notification-dead-letters",
      tags: ["notification channels"],
      summary: "Notifications that could not be delivered, newest first (admin)",
    }, { 200: dataResponse(z.array(DeadLetter), "Dead letters") }),
    async (c) => {
      const rows = await outboxRepo.dead(c.get("app").db);
      return ok(c, rows.map(({ payload: _p, status: _s, delivered_at: _d, ...r }) => r));
    },
  );
}
