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

/** How long the queue's and alerting's figures in /health may be reused. */
export const HEALTH_FIGURES_TTL_MS = 5_000;

interface Figures {
  /** the pipeline's dead letters (a KV read) */
  deadLetters?: number;
  alerting?: HealthReport["alerting"];
}

/**
 * /health as load balancers call it (haproxy every 500 ms per backend in docs/deploy.md): the
 * database is asked every time (one `SELECT 1`, shared by calls that arrive together) and the
 * queue depth is read live; the slower figures (dead letters, outbox depth, open problems: a
 * KV read and two statements) are read at most once per `figuresTtlMs`.
 */
export function healthCheck(
  app: HealthSources,
  figuresTtlMs = HEALTH_FIGURES_TTL_MS,
): () => Promise<HealthReport> {
  let ping: Promise<boolean> | undefined;
  let figures: { at: number; value: Promise<Figures> } | undefined;
  const reachable = () =>
    ping ??= withTimeout(app.db.query("SELECT 1"), 2_000).then(() => true, () => false)
      .finally(() => ping = undefined);
  const readFigures = (): Promise<Figures> => {
    const now = performance.now();
    if (!figures || now - figures.at >= figuresTtlMs) {
      const value = collectFigures(app);
      const entry = { at: now, value };
      figures = entry;
      // a failed read is not kept
      value.catch(() => {
        if (figures === entry) figures = undefined;
      });
    }
    return figures.value;
  };
  return async () => {
    const started = performance.now();
    const ok = await reachable();
    const latency = Math.round((performance.now() - started) * 100) / 100;
    // Unreachable: nothing cached is trusted, and alerting (in the database) is left out.
    const { deadLetters, alerting } = ok
      ? await readFigures()
      : { deadLetters: await app.monitoring?.deadLetters(), alerting: undefined };
    const rt = app.monitoring;
    const pipeline = rt
      ? {
        queue_depth: rt.pending(),
        dead_letters: deadLetters ?? 0,
        monitors_scheduled: rt.pipeline.stats().scheduler?.monitors ?? 0,
      }
      : undefined;
    return {
      status: ok && !pipeline?.dead_letters && !alerting?.dead_letters ? "ok" : "degraded",
      ...(pipeline ? { pipeline } : {}),
      ...(alerting ? { alerting } : {}),
      version: app.version,
      uptime_seconds: Math.round((Date.now() - app.startedAt.getTime()) / 1000),
      database: { reachable: ok, kind: app.db.kind, latency_ms: ok ? latency : null },
    };
  };
}

async function collectFigures(app: HealthSources): Promise<Figures> {
  const [deadLetters, stats] = await Promise.all([
    app.monitoring?.deadLetters(),
    app.alerting
      ? withTimeout(app.alerting.stats(), 2_000).catch(() => undefined)
      : Promise.resolve(undefined),
  ]);
  const alerting = stats
    ? {
      outbox_depth: stats.outboxPending,
      dead_letters: stats.deadLetters,
      open_problems: stats.openBySeverity.reduce((n, r) => n + r.open, 0),
    }
    : undefined;
  return { deadLetters, alerting };
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
