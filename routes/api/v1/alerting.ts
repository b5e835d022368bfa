/**
 * Alerting: rules (and the metrics they may watch), problems (list, acknowledge, delivery log,
 * overview counts), maintenance windows and device tags. Operators manage them; viewers read.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok, okPage } from "../../http/define.ts";
import { actorOf } from "../../http/actor.ts";
import { notFound } from "../../http/errors.ts";
import {
  dataResponse,
  errorResponse,
  errors,
  Id,
  IdParam,
  IdQuery,
  jsonBody,
  listQuery,
  NullableTimestamp,
  pageResponse,
  Timestamp,
} from "./schemas.ts";
import { bearerRoute, resourceRoutes } from "./resource.ts";
import { METRICS } from "../../../lib/alerting/catalogue.ts";
import { SEVERITIES, type Severity } from "../../../lib/alerting/notification.ts";

const SEVERITY = z.enum(SEVERITIES as unknown as readonly [Severity, ...Severity[]]);
const OPERATOR = z.enum([">", ">=", "<", "<="]);

const ScopeSchema = z.object({
  kind: z.enum(["all", "tag", "device"]),
  tag: z.string().max(64).nullable().optional(),
  device_id: Id.nullable().optional(),
}).openapi("AlertScope", {
  description: "every device (`all`), devices with a tag, or one device",
});

const ScopeOut = z.object({
  kind: z.enum(["all", "tag", "device"]),
  tag: z.string().nullable(),
  device_id: z.number().int().nullable(),
});

const AlertRule = z.object({
  id: z.number().int(),
  name: z.string(),
  metric: z.string(),
  operator: OPERATOR,
  threshold: z.number(),
  recovery_threshold: z.number().nullable(),
  for_seconds: z.number().int(),
  severity: SEVERITY,
  scope: ScopeOut,
  enabled: z.boolean(),
  params: z.record(z.string(), z.unknown()).openapi({
    description: "the metric's parameters (see AlertRuleParams); {} for most metrics",
  }),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("AlertRule");

const RuleParams = z.object({
  include: z.array(z.string().min(1).max(256)).max(500).optional().openapi({
    description: "service_not_running: only these services (`*` wildcards)",
    example: ["MSSQLSERVER", "W3SVC"],
  }),
  exclude: z.array(z.string().min(1).max(256)).max(500).optional().openapi({
    description: "service_not_running: never these services (`*` wildcards)",
    example: ["wuauserv"],
  }),
  process: z.string().min(1).max(256).optional().openapi({
    description: "process_not_running / process_cpu_percent: the process name, without .exe",
    example: "sqlservr",
  }),
  source: z.string().min(1).max(256).optional().openapi({
    description: "event_log_count: only entries of this source",
  }),
  event_id: z.number().int().min(0).max(65_535).optional().openapi({
    description: "event_log_count: only entries with this event id",
  }),
  log: z.string().min(1).max(64).optional().openapi({
    description: "event_log_count: System or Application",
  }),
}).strict().openapi("AlertRuleParams");

const RuleBody = z.object({
  name: z.string().trim().min(1).max(200),
  metric: z.string().max(64).openapi({
    description: "a metric of GET /alert-metrics",
    example: "volume_used_percent",
  }),
  operator: OPERATOR,
  threshold: z.number().optional().openapi({
    description: "of the metric's kind (a percentage 0-100, whole bytes…); 1 for a state",
    example: 90,
  }),
  recovery_threshold: z.number().nullable().optional().openapi({
    description: "hysteresis: the problem resolves once the value is back past this",
    example: 85,
  }),
  for_seconds: z.number().int().min(0).max(7 * 86_400).optional().openapi({
    description: "how long the condition must hold before a problem opens",
    example: 300,
  }),
  severity: SEVERITY,
  scope: ScopeSchema.optional(),
  enabled: z.boolean().optional(),
  params: RuleParams.optional(),
}).strict().openapi("AlertRuleWrite");

const AlertMetric = z.object({
  name: z.string(),
  label: z.string(),
  unit: z.string(),
  kind: z.string(),
  source: z.string(),
  per: z.enum(["device", "volume", "interface", "service", "process", "source"]),
}).openapi("AlertMetric");

const Problem = z.object({
  id: z.number().int(),
  rule_id: z.number().int().nullable(),
  rule_name: z.string(),
  device_id: z.number().int(),
  device_name: z.string(),
  device_ip: z.string(),
  instance: z.string(),
  severity: SEVERITY,
  state: z.enum(["open", "resolved"]),
  opened_at: Timestamp,
  open_value: z.number().nullable(),
  threshold: z.number().nullable(),
  summary: z.string(),
  acknowledged: z.boolean(),
  acknowledged_at: NullableTimestamp,
  acknowledged_by: z.string().nullable(),
  ack_comment: z.string().nullable(),
  resolved_at: NullableTimestamp,
  resolve_value: z.number().nullable(),
  in_maintenance: z.boolean(),
  sequence: z.number().int(),
  notified_at: NullableTimestamp,
}).openapi("Problem");

const Delivery = z.object({
  id: z.number().int(),
  outbox_id: z.number().int(),
  channel_id: z.number().int(),
  attempt: z.number().int(),
  ok: z.boolean(),
  status: z.string(),
  detail: z.string().nullable(),
  duration_ms: z.number().int(),
  at: Timestamp,
}).openapi("NotificationDelivery");

const ProblemOverview = z.object({
  open: z.number().int(),
  acknowledged: z.number().int(),
  in_maintenance: z.number().int(),
  by_severity: z.record(z.string(), z.number().int()),
}).openapi("ProblemOverview");

const ProblemQuery = listQuery(["id", "opened_at", "severity", "device"]).extend({
  order: z.enum(["asc", "desc"]).default("desc"),
  state: z.enum(["open", "resolved", "acknowledged", "unacknowledged"]).optional(),
  severity: SEVERITY.optional(),
  device_id: IdQuery.optional(),
  tag: z.string().max(64).optional(),
  since: z.string().datetime({ offset: true }).optional().openapi({
    description: "problems still open at or resolved after this time",
  }),
  until: z.string().datetime({ offset: true }).optional().openapi({
    description: "problems opened at or before this time",
  }),
});

const Maintenance = z.object({
  id: z.number().int(),
  name: z.string(),
  scope: ScopeOut,
  kind: z.enum(["once", "weekly"]),
  starts_at: NullableTimestamp,
  ends_at: NullableTimestamp,
  weekdays: z.array(z.number().int()).nullable(),
  start_minute: z.number().int().nullable(),
  duration_minutes: z.number().int().nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
}).openapi("MaintenanceWindow");

const MaintenanceBody = z.object({
  name: z.string().trim().min(1).max(200),
  scope: ScopeSchema.optional(),
  kind: z.enum(["once", "weekly"]),
  starts_at: z.string().datetime({ offset: true }).nullable().optional(),
  ends_at: z.string().datetime({ offset: true }).nullable().optional(),
  weekdays: z.array(z.number().int().min(0).max(6)).max(7).nullable().optional().openapi({
    description: "weekly: days of the week, 0 = Sunday (UTC)",
  }),
  start_minute: z.number().int().min(0).max(1439).nullable().optional().openapi({
    description: "weekly: minute of the day it starts (UTC)",
  }),
  duration_minutes: z.number().int().min(1).max(7 * 1440).nullable().optional(),
}).strict().openapi("MaintenanceWindowWrite");

const Tags = z.object({ tags: z.array(z.string().max(64)).max(50) }).strict().openapi("DeviceTags");
const TagCount = z.object({ tag: z.string(), devices: z.number().int() }).openapi("TagCount");

export function registerAlertingRoutes(app: OpenAPIHono<AppEnv>): void {
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/alert-metrics",
      tags: ["alert rules"],
      summary: "The metrics and states a rule can watch, with the kind of their threshold",
    }, { 200: dataResponse(z.array(AlertMetric), "The catalogue") }),
    (c) => Promise.resolve(ok(c, METRICS)),
  );
  resourceRoutes(app, {
    noun: "alert rule",
    schema: AlertRule,
    service: (s) => s.alertRules,
    list: {
      query: listQuery(["id", "name", "severity", "metric"]).extend({
        metric: z.string().max(64).optional(),
        enabled: z.enum(["true", "false"]).transform((v) => v === "true").optional(),
      }),
    },
    create: {
      summary: "Create an alert rule: a condition on a metric, held for a duration, in a scope",
      body: RuleBody,
    },
    get: {},
    update: {
      summary: "Replace an alert rule's definition; its open problems resolve",
      body: RuleBody,
    },
    delete: { summary: "Delete an alert rule; its open problems resolve" },
  });

  // Registered before /problems/{id} so "overview" is not read as an id.
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/problems/overview",
      tags: ["problems"],
      summary: "Open problems by severity, acknowledged and in maintenance",
    }, { 200: dataResponse(ProblemOverview, "Counts") }),
    async (c) => ok(c, await c.get("app").services.problems.overview()),
  );
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/problems",
      tags: ["problems"],
      summary: "List problems, filtered by state, severity, device, tag and time; newest first",
      request: { query: ProblemQuery },
    }, { 200: pageResponse(Problem) }),
    async (c) => {
      const q = c.req.valid("query");
      return okPage(
        c,
        await c.get("app").services.problems.list({
          ...q,
          since: q.since ? new Date(q.since) : undefined,
          until: q.until ? new Date(q.until) : undefined,
        }),
      );
    },
  );
  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/problems/{id}",
        tags: ["problems"],
        summary: "Get a problem",
        request: { params: IdParam },
      },
      { 200: dataResponse(Problem, "The problem") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const p = await c.get("app").services.problems.get(id);
      if (!p) throw notFound("problem", id);
      return ok(c, p);
    },
  );
  handle(
    app,
    bearerRoute(
      {
        method: "post",
        path: "/problems/{id}/acknowledge",
        tags: ["problems"],
        summary: "Acknowledge an open problem with a comment; repeat notifications stop",
        request: {
          params: IdParam,
          body: jsonBody(
            z.object({ comment: z.string().max(2000).nullable().optional() }).strict().openapi(
              "ProblemAcknowledge",
            ),
          ),
        },
      },
      { 200: dataResponse(Problem, "Acknowledged") },
      {
        ...errors.notFound,
        409: errorResponse("The problem is resolved"),
      },
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const { comment } = c.req.valid("json");
      return ok(
        c,
        await c.get("app").services.problems.acknowledge(actorOf(c), id, comment?.trim() || null),
      );
    },
  );
  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/problems/{id}/deliveries",
        tags: ["problems"],
        summary: "Every notification attempt for the problem, oldest first",
        request: { params: IdParam },
      },
      { 200: dataResponse(z.array(Delivery), "The delivery log") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, await c.get("app").services.problems.deliveries(id));
    },
  );

  resourceRoutes(app, {
    noun: "maintenance window",
    schema: Maintenance,
    service: (s) => s.maintenance,
    list: { query: listQuery(["id", "name", "starts_at"]) },
    create: {
      summary: "Create a maintenance window (device, tag or all; one-off or weekly)",
      body: MaintenanceBody,
    },
    get: {},
    update: { summary: "Replace a maintenance window", body: MaintenanceBody },
    delete: { summary: "Delete a maintenance window" },
  });

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/devices/{id}/tags",
        tags: ["devices"],
        summary: "A device's tags",
        request: { params: IdParam },
      },
      { 200: dataResponse(Tags, "The tags") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, { tags: await c.get("app").services.deviceTags.get(id) });
    },
  );
  handle(
    app,
    bearerRoute(
      {
        method: "put",
        path: "/devices/{id}/tags",
        tags: ["devices"],
        summary: "Replace a device's tags (letters, digits, '_', '.', ':', '-'; up to 64 each)",
        request: { params: IdParam, body: jsonBody(Tags) },
      },
      { 200: dataResponse(Tags, "The tags") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      const { tags } = c.req.valid("json");
      return ok(c, { tags: await c.get("app").services.deviceTags.set(actorOf(c), id, tags) });
    },
  );
  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/device-tags",
      tags: ["devices"],
      summary: "Every tag in use and how many devices carry it",
    }, { 200: dataResponse(z.array(TagCount), "Tags") }),
    async (c) => ok(c, await c.get("app").services.deviceTags.counts()),
  );
}
