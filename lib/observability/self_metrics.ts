/**
 * NMSlite's own metrics for `GET /metrics` (Prometheus text): polls by outcome, poll duration,
 * scheduler lag, queue depth and dead letters, writer batch size and commit time, devices by
 * status. Values are read where they live at scrape time; nothing here keeps state.
 */
import type { Queryable } from "../db/driver.ts";
import type { MonitoringRuntime } from "../pipeline/runtime.ts";
import { type Labels, PrometheusText } from "./prometheus.ts";
import { DEVICE_STATUSES, devicesRepo } from "../db/devices.ts";
import { Histogram } from "../metrics/histogram.ts";
import { DURATION_BUCKETS_MS } from "../polling/poller.ts";
import type { PollerStats } from "../messages.ts";
import { pollerSaturation } from "./poller_load.ts";
import { sumFailureCounts } from "../polling/failure_class.ts";
import type { AlertingRuntime } from "../alerting/runtime.ts";
import { SEVERITIES } from "../alerting/notification.ts";
import type { MetricsWriter } from "../metrics/writer.ts";

const msToSeconds = (buckets: Record<string, number>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(buckets).map(([b, n]) => [b === "+Inf" ? b : String(Number(b) / 1000), n]),
  );

/** How long a scrape waits for the database before reporting it down. */
export const DATABASE_SCRAPE_TIMEOUT_MS = 2_000;

export interface SelfMetricsSources {
  db: Queryable;
  startedAt: Date;
  /** absent when polling is off in this process */
  monitoring?: MonitoringRuntime;
  /** absent when alert evaluation does not run in this process */
  alerting?: AlertingRuntime;
  /** a central without polling: the writer that commits what poller nodes send, once made */
  ingestWriter?: MetricsWriter;
}

/**
 * Renders whatever it can: during a database outage (an error, or no answer within
 * DATABASE_SCRAPE_TIMEOUT_MS) `nmslite_database_up` is 0 and the device gauges are left out,
 * while everything kept in memory or in the queue is still reported; that is when an operator
 * needs the scrape most.
 */
export async function renderSelfMetrics(ctx: SelfMetricsSources): Promise<string> {
  const out = new PrometheusText();
  const byStatus = await withTimeout(devicesRepo.countByStatus(ctx.db), DATABASE_SCRAPE_TIMEOUT_MS)
    .catch(() => undefined);
  out.gauge(
    "nmslite_database_up",
    "1 when the database answered this scrape, 0 when it failed or timed out",
    byStatus ? 1 : 0,
  );
  if (byStatus) {
    out.gauge(
      "nmslite_devices",
      "Devices by status",
      DEVICE_STATUSES.map((s) => [
        { status: s },
        byStatus.get(s) ?? 0,
      ]),
    );
  }
  out.gauge(
    "nmslite_uptime_seconds",
    "Seconds since start",
    (Date.now() - ctx.startedAt.getTime()) / 1000,
  );
  if (ctx.alerting) await alertingMetrics(out, ctx.alerting);
  const rt = ctx.monitoring;
  if (!rt) {
    if (ctx.ingestWriter) writerMetrics(out, ctx.ingestWriter);
    return out.toString();
  }

  const stats = rt.pipeline.stats();
  const polls = { ok: 0, failed: 0, retried: 0 };
  const duration = new Histogram(DURATION_BUCKETS_MS);
  for (const p of stats.pollers) {
    polls.ok += p.polls.ok;
    polls.failed += p.polls.failed;
    polls.retried += p.polls.retried;
    duration.add(p.durationBuckets, p.durationSumMs);
  }
  out.counter("nmslite_polls_total", "Polls by outcome (after retries)", [
    [{ outcome: "ok" }, polls.ok],
    [{ outcome: "failed" }, polls.failed],
  ]);
  out.counter("nmslite_poll_retries_total", "Poll attempts retried", polls.retried);
  pollFailures(out, stats.pollers);
  histogram(
    out,
    "nmslite_poll_duration_seconds",
    "Poll duration including retries",
    duration,
    1000,
  );
  out.gauge(
    "nmslite_polls_in_flight",
    "Polls running in the poller Workers",
    stats.pollers.reduce((n, p) => n + p.inFlight, 0),
  );
  out.gauge(
    "nmslite_polls_queued",
    "Polls waiting for a free slot in the poller Workers",
    stats.pollers.reduce((n, p) => n + p.queued, 0),
  );
  saturation(out, stats.pollers, stats.shed);
  const s = stats.scheduler;
  out.gauge("nmslite_scheduler_monitors", "Monitors in the schedule", s?.monitors ?? 0);
  out.counter("nmslite_scheduler_fired_total", "Polls fired by the scheduler", s?.fired ?? 0);
  out.counter(
    "nmslite_scheduler_skipped_total",
    "Deadlines missed by more than an interval and run once late",
    s?.skipped ?? 0,
  );
  out.gauge("nmslite_scheduler_lag_seconds", "Fire time minus due time over recent fires", [
    [{ quantile: "0.5" }, (s?.lagP50Ms ?? 0) / 1000],
    [{ quantile: "0.99" }, (s?.lagP99Ms ?? 0) / 1000],
    [{ quantile: "1" }, (s?.lagMaxMs ?? 0) / 1000],
  ]);
  out.gauge("nmslite_queue_depth", "Result messages enqueued and not yet committed", rt.pending());
  const deadLetters = await rt.deadLetters().catch(() => undefined);
  if (deadLetters !== undefined) {
    out.gauge("nmslite_queue_dead_letters", "Undeliverable result messages", deadLetters);
  }
  out.counter("nmslite_queue_messages_total", "Result messages taken off the queue", [
    [{ result: "committed" }, rt.queue.committed],
    [{ result: "failed" }, rt.queue.failed],
    [{ result: "malformed" }, rt.queue.malformed],
  ]);
  writerMetrics(out, rt.writer);
  out.counter(
    "nmslite_health_deactivated_total",
    "Devices marked unreachable",
    rt.health.counters.deactivated,
  );
  out.counter(
    "nmslite_health_reactivated_total",
    "Devices that recovered",
    rt.health.counters.reactivated,
  );
  return out.toString();
}

function saturation(
  out: PrometheusText,
  pollers: PollerStats[],
  shed?: { busy: number; queue_full: number },
) {
  const sat = pollerSaturation(pollers, shed);
  out.gauge(
    "nmslite_poller_saturation",
    "Polls in the poller Workers' slots and waiting for one, over the slots (above 1: polls wait); polls to hosts that do not answer (the slow pool) do not count",
    sat.ratio,
  );
  out.gauge(
    "nmslite_poller_saturation_average",
    "nmslite_poller_saturation averaged over the poller Workers' last report interval (5 s); above 1 the pollers do not keep up",
    sat.average,
  );
  out.counter(
    "nmslite_poller_load_seconds_total",
    "Polls in the poller Workers' slots and waiting for one, integrated over time: rate() over a window, divided by the concurrency, is the saturation averaged over that window",
    sat.loadSeconds,
  );
  out.gauge(
    "nmslite_poller_capacity",
    "Polls the poller Workers may run, and hold waiting (a burst younger than polling.queue_burst_ms may hold up to 4 times the queue)",
    [
      [{ kind: "concurrency" }, sat.capacity],
      [{ kind: "queue" }, sat.maxQueued],
    ],
  );
  out.counter(
    "nmslite_polls_skipped_total",
    "Due polls dropped: the monitor's previous poll was still queued or running (busy), or the wait queue was full (queue_full)",
    [
      [{ reason: "busy" }, sat.skipped.busy],
      [{ reason: "queue_full" }, sat.skipped.queue_full],
    ],
  );
  out.gauge(
    "nmslite_poller_timed_out_hosts",
    "Hosts whose last poll timed out: their polls start in the slow pool, and give way in a full queue",
    sat.slow.hosts,
  );
  out.gauge(
    "nmslite_poller_slow_pool",
    "Polls slow to answer, outside the concurrency: running (in_flight), the count below which timed-out hosts' polls start (lane), and the pool's size (slots)",
    [
      [{ kind: "in_flight" }, sat.slow.inFlight],
      [{ kind: "lane" }, sat.slow.lane],
      [{ kind: "slots" }, sat.slow.pool],
    ],
  );
  out.counter(
    "nmslite_poller_slow_polls_total",
    "Polls moved into the slow pool while running (moved), and polls that ended at a timeout without their retries because the slow pool was full (cut_short)",
    [
      [{ event: "moved" }, sat.slow.moved],
      [{ event: "cut_short" }, sat.slow.cutShort],
    ],
  );
}

/** Failed polls by class, and the poller Workers' WinRM connections against their budget. */
function pollFailures(out: PrometheusText, pollers: PollerStats[]) {
  const byClass = sumFailureCounts(pollers.map((p) => p.failedByClass));
  const conns = { max: 0, open: 0, idle: 0, waiting: 0, evicted: 0, exhausted: 0 };
  for (const p of pollers) {
    for (const k of Object.keys(conns) as (keyof typeof conns)[]) {
      conns[k] += p.connections?.[k] ?? 0;
    }
  }
  out.counter(
    "nmslite_polls_failed_total",
    "Failed polls by class (timeout, refused, reset, unreachable, tls, auth, fault, local_resource, other)",
    Object.entries(byClass).map(([c, n]) => [{ class: c }, n]),
  );
  out.gauge("nmslite_winrm_connections", "Poller WinRM connections: open, idle, budget", [
    [{ state: "open" }, conns.open],
    [{ state: "idle" }, conns.idle],
    [{ state: "budget" }, Number.isFinite(conns.max) ? conns.max : -1],
  ]);
  out.gauge(
    "nmslite_winrm_connection_waiters",
    "Polls waiting for a connection slot",
    conns.waiting,
  );
  out.counter(
    "nmslite_winrm_connections_evicted_total",
    "Idle WinRM connections closed to stay within the descriptor budget",
    conns.evicted,
  );
  out.counter(
    "nmslite_winrm_descriptors_exhausted_total",
    "WinRM connects that met EMFILE/ENFILE (the process out of descriptors despite the budget: something else took more than its reserve); the pool closes idle connections and retries",
    conns.exhausted,
  );
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
    p.catch(() => {}); // a late failure of the abandoned query is not unhandled
  }
}

function histogram(out: PrometheusText, name: string, help: string, h: Histogram, div: number) {
  const buckets = div === 1 ? h.buckets : msToSeconds(h.buckets);
  out.histogram(name, help, buckets, h.sum / div);
}

/** Open problems by severity, evaluations, notifications by channel and outcome, outbox depth. */
async function alertingMetrics(out: PrometheusText, alerting: AlertingRuntime): Promise<void> {
  const e = alerting.evaluator.counters;
  out.counter("nmslite_alert_evaluations_total", "Rule conditions evaluated", e.evaluations);
  out.counter(
    "nmslite_alert_evaluation_seconds_total",
    "CPU time spent evaluating committed samples",
    alerting.cost.evaluateMs / 1000,
  );
  out.counter(
    "nmslite_alert_samples_total",
    "Committed samples handed to the evaluator",
    alerting.cost.samples,
  );
  out.counter(
    "nmslite_alert_transitions_total",
    "Problems opened and resolved by the evaluator",
    [[{ transition: "open" }, e.opened], [{ transition: "resolve" }, e.resolved]],
  );
  const notifications = [...alerting.outbox.outcomes].map(([key, n]): [Labels, number] => {
    const [channel, outcome] = key.split("|");
    return [{ channel, outcome }, n];
  });
  if (notifications.length) {
    out.counter(
      "nmslite_notifications_total",
      "Notification delivery attempts by channel id and outcome (ok, retry, dead)",
      notifications,
    );
  }
  const stats = await withTimeout(alerting.stats(), DATABASE_SCRAPE_TIMEOUT_MS).catch(() =>
    undefined
  );
  if (!stats) return;
  const open = new Map(stats.openBySeverity.map((r) => [r.severity, r.open]));
  out.gauge(
    "nmslite_problems_open",
    "Open problems by severity",
    SEVERITIES.map((s) => [{ severity: s }, open.get(s) ?? 0]),
  );
  out.gauge(
    "nmslite_notification_outbox_depth",
    "Notifications waiting for delivery",
    stats.outboxPending,
  );
  out.gauge(
    "nmslite_notification_dead_letters",
    "Notifications that could not be delivered",
    stats.deadLetters,
  );
}

/** The metrics writer's figures: the polling process's, or a central's for node results. */
function writerMetrics(out: PrometheusText, w: MetricsWriter): void {
  out.counter("nmslite_writer_rows_total", "Metric rows the writer handled", [
    [{ result: "inserted" }, w.totals.inserted],
    [{ result: "duplicate" }, w.totals.duplicates],
    [{ result: "orphaned" }, w.totals.orphaned],
  ]);
  histogram(out, "nmslite_writer_batch_rows", "Rows and outcomes per commit", w.batchRows, 1);
  histogram(out, "nmslite_writer_commit_seconds", "Commit time", w.commitMs, 1000);
  histogram(
    out,
    "nmslite_poll_to_row_seconds",
    "From a successful poll's due time to the commit of its row",
    w.pollToRowMs,
    1000,
  );
}
