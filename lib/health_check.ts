/**
 * What `/health` reports: database reachability and, where this process runs the pipeline,
 * queue depth and dead letters.
 */
import type { Queryable } from "./db/driver.ts";
import type { MonitoringRuntime } from "./pipeline/runtime.ts";
import type { AlertingRuntime } from "./alerting/runtime.ts";

export interface HealthSources {
  db: Queryable & { kind: string };
  version: string;
  startedAt: Date;
  /** absent when polling is off in this process */
  monitoring?: MonitoringRuntime;
  /** absent when alert evaluation does not run in this process */
  alerting?: AlertingRuntime;
}

export interface HealthReport {
  status: "ok" | "degraded";
  version: string;
  uptime_seconds: number;
  database: { reachable: boolean; kind: string; latency_ms: number | null };
  /** absent when polling is off in this process; dead letters make the status "degraded" */
  pipeline?: { queue_depth: number; dead_letters: number; monitors_scheduled: number };
  /** notifications waiting and dead; dead ones make the status "degraded" */
  alerting?: { outbox_depth: number; dead_letters: number; open_problems: number };
}

export async function checkHealth(app: HealthSources): Promise<HealthReport> {
  const started = performance.now();
  let reachable = true;
  try {
    await withTimeout(app.db.query("SELECT 1"), 2_000);
  } catch {
    reachable = false;
  }
  const rt = app.monitoring;
  const pipeline = rt
    ? {
      queue_depth: rt.pending(),
      dead_letters: await rt.deadLetters(),
      monitors_scheduled: rt.pipeline.stats().scheduler?.monitors ?? 0,
    }
    : undefined;
  const stats = reachable && app.alerting
    ? await withTimeout(app.alerting.stats(), 2_000).catch(() => undefined)
    : undefined;
  const alerting = stats
    ? {
      outbox_depth: stats.outboxPending,
      dead_letters: stats.deadLetters,
      open_problems: stats.openBySeverity.reduce((n, r) => n + r.open, 0),
    }
    : undefined;
  return {
    status: reachable && !pipeline?.dead_letters && !alerting?.dead_letters ? "ok" : "degraded",
    ...(pipeline ? { pipeline } : {}),
    ...(alerting ? { alerting } : {}),
    version: app.version,
    uptime_seconds: Math.round((Date.now() - app.startedAt.getTime()) / 1000),
    database: {
      reachable,
      kind: app.db.kind,
      latency_ms: reachable ? Math.round((performance.now() - started) * 100) / 100 : null,
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("timeout")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
