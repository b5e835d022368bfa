/**
 * Metrics of a monitor or a device: the latest sample with derived percentages, and history
 * downsampled server-side for charts. Read-only, so every role may call them.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/env.ts";
import { handle, ok } from "../../http/define.ts";
import { dataResponse, errors, IdParam } from "./schemas.ts";
import { bearerRoute } from "./resource.ts";
import { BREAKDOWNS } from "../../../lib/metrics/reader.ts";

export const MAX_POINTS = 2_000;

const n = z.number().nullable();
const Time = z.string().openapi({ format: "date-time" });
const Usage = z.object({ total_bytes: n, used_bytes: n, percent: n }).openapi("MetricUsage", {
  description: "percent = used_bytes / total_bytes × 100, derived at query time",
});

const Sample = z.object({
  ts: Time,
  cpu_percent: n,
  memory: Usage,
  disk: Usage,
  network: z.object({
    sent_bps: n,
    recv_bps: n,
    packets_sent: n,
    packets_recv: n,
    errors: n,
    discards: n,
    utilization_percent: n.openapi({
      description: "as collected, else the busiest interface's (bytes/s × 8 over link speed)",
    }),
  }),
  process_count: n,
  collection_ms: n,
  volumes: z.array(Usage.extend({ name: z.string() })),
  interfaces: z.array(z.object({
    name: z.string(),
    sent_bps: z.number(),
    recv_bps: z.number(),
    packets_sent: z.number(),
    packets_recv: z.number(),
    errors: z.number(),
    discards: z.number(),
    bandwidth_bps: n,
    utilization_percent: n,
  })),
  uptime_s: n.openapi({ description: "extended/full profiles: seconds since LastBootUpTime" }),
  page_file: Usage,
  processor_queue: n,
  context_switches_ps: n,
  cpu_cores: z.array(z.object({ name: z.string(), percent: z.number() })),
  physical_disks: z.array(z.object({
    name: z.string(),
    reads_ps: z.number(),
    writes_ps: z.number(),
    read_bps: z.number(),
    write_bps: z.number(),
    queue: z.number().openapi({ description: "average disk queue length" }),
    sec_per_transfer: z.number().openapi({ description: "average seconds per transfer" }),
  })),
  partial: z.array(z.object({ part: z.string(), class: z.string(), reason: z.string() }))
    .openapi({ description: "parts the host could not give at this poll (missing class, denied)" }),
}).openapi("MetricSample");

const MonitorLatest = z.object({
  monitor_id: z.number().int(),
  device_id: z.number().int(),
  sample: Sample.nullable(),
}).openapi("MonitorLatestMetrics", {
  description: "sample is null while the monitor has none (not polled yet, or silent for over " +
    "400 days before its last poll)",
});

const Stat = z.object({ min: n, avg: n, max: n }).openapi("MetricStat");
const HistoryPoint = z.object({
  t: Time.openapi({ description: "bucket start" }),
  samples: z.number().int(),
  cpu_percent: Stat,
  memory_percent: Stat,
  disk_percent: Stat,
  net_sent_bps: Stat,
  net_recv_bps: Stat,
  net_utilization_percent: Stat,
  process_count: Stat,
  processor_queue: Stat,
  context_switches_ps: Stat,
  page_file_percent: Stat,
}).openapi("MetricHistoryPoint");

const History = z.object({
  monitor_id: z.number().int(),
  from: Time,
  to: Time,
  bucket_seconds: z.number().int(),
  points: z.array(HistoryPoint).openapi({
    description: "one per bucket holding samples, oldest first; empty buckets are left out",
  }),
  breakdown: z.object({
    kind: z.enum(BREAKDOWNS),
    series: z.array(z.object({
      name: z.string(),
      points: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))).openapi({
        description: "volumes: {t, percent}; interfaces: {t, sent_bps, recv_bps, " +
          "utilization_percent}; physical_disks: {t, reads_ps, writes_ps, read_bps, write_bps, " +
          "queue, sec_per_transfer}; cpu_cores: {t, percent} (bucket averages)",
      }),
    })),
  }).nullable(),
}).openapi("MetricHistory");

// An unencoded "+02:00" offset arrives as " 02:00" (form decoding); take it as meant.
const isoTime = (field: string, description: string) =>
  z.preprocess(
    (v) => typeof v === "string" ? v.replace(/ (\d\d:?\d\d)$/, "+$1") : v,
    z.iso.datetime({ offset: true }),
  ).optional().openapi({
    param: { name: field, in: "query" },
    description,
    example: "2026-01-01T00:00:00Z",
  });

const HistoryQuery = z.object({
  from: isoTime("from", "range start, inclusive (default: to minus one hour)"),
  to: isoTime("to", "range end, exclusive (default: now)"),
  points: z.coerce.number().int().min(1).max(MAX_POINTS).default(300).openapi({
    description: `at most this many buckets of (to - from) / points (1 to ${MAX_POINTS})`,
    example: 300,
  }),
  breakdown: z.enum(BREAKDOWNS).optional().openapi({
    description: "also per-volume, per-interface, per-physical-disk (disk I/O) or per-core " +
      "(CPU) average series; the last two need the extended or full collection profile",
  }),
});

export function registerMetricsRoutes(app: OpenAPIHono<AppEnv>): void {
  const tags = ["metrics"];

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/monitors/{id}/metrics",
        tags,
        summary: "Latest sample of a monitor, with percentages and per-volume/interface figures",
        request: { params: IdParam },
      },
      { 200: dataResponse(MonitorLatest, "The latest sample, or sample: null") },
      errors.notFound,
    ),
    async (c) => ok(c, await c.get("app").services.metrics.latest(c.req.valid("param").id)),
  );

  handle(
    app,
    bearerRoute(
      {
        method: "get",
        path: "/monitors/{id}/metrics/history",
        tags,
        summary: "History of a monitor downsampled into min/avg/max buckets (date_bin)",
        request: { params: IdParam, query: HistoryQuery },
      },
      { 200: dataResponse(History, "Buckets over [from, to)") },
      errors.notFound,
    ),
    async (c) => {
      const { id } = c.req.valid("param");
      return ok(c, await c.get("app").services.metrics.history(id, c.req.valid("query")));
    },
  );

  handle(
    app,
    bearerRoute({
      method: "get",
      path: "/devices/{id}/metrics",
      tags,
      summary: "Latest sample of each monitor of a device",
      request: { params: IdParam },
    }, {
      200: dataResponse(
        z.object({ device_id: z.number().int(), monitors: z.array(MonitorLatest) }),
        "One entry per monitor of the device, by monitor id",
      ),
    }, errors.notFound),
    async (c) => ok(c, await c.get("app").services.metrics.ofDevice(c.req.valid("param").id)),
  );
}
