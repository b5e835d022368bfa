/**
 * Everything that runs in the background of the main isolate, started after migrations and
 * stopped before the database closes: the results queue listener and metrics writer, the
 * scheduler and poller Workers, the health monitor, and the daily partition upkeep.
 *
 * Order matters at both ends: the writer listens before pollers can enqueue, and on shutdown
 * the pollers flush into the queue before the writer stops (what it has not committed stays
 * in the queue and is delivered at the next start).
 */
import { getLogger } from "@logtape/logtape";
import { type Config, pluginDirOf } from "../config.ts";
import { MetricsWriter } from "../metrics/writer.ts";
import { DEAD_LETTER_PREFIX, decodeBatch, ResultBatchFormatError } from "../queue/results_queue.ts";
import { Pipeline, type PipelineDeps } from "./pipeline.ts";
import { HealthMonitor, type HealthMonitorOptions } from "../health/health_monitor.ts";
import { DeviceIdentification } from "../inventory/device_identification.ts";
import { hostIdentifier } from "../collectors/identify_host.ts";
import { ensurePartitions } from "../metrics/partitions.ts";
import { applyRetention } from "../metrics/timescale.ts";
import { applyDetailRetention, ensureDetailPartitions } from "../metrics/detail_retention.ts";
import { fdBudgetFor } from "../os/fd_limit.ts";
import { configureConnectionBudget } from "../winrm/budget.ts";
import type { MetricSample, PollOutcome } from "../messages.ts";

const log = getLogger(["nmslite", "runtime"]);

/** How long a device whose host would not say its name waits before a poll asks again. */
const IDENTIFY_RETRY_MS = 15 * 60_000;

/** What the runtime is handed by the composition root: the pipeline's parts and its settings. */
export interface RuntimeDeps extends PipelineDeps {
  settings:
    & Pick<
      Config,
      "polling" | "health" | "metrics" | "plugins" | "data_dir" | "server" | "database"
    >
    & Partial<Pick<Config, "kerberos">>;
  /** the Deno KV file of the results queue */
  queuePath: string;
  /** alert evaluation, fed every commit and every reachability change */
  alerting?: AlertingHooks;
  /**
   * How an unreachable device is probed for recovery (default: from this process). With poller
   * nodes, a device of another site is probed by a node of its site: this server may not
   * reach it at all.
   */
  probe?: HealthMonitorOptions["probe"];
}

/** What the runtime tells alert evaluation (lib/alerting/runtime.ts). */
export interface AlertingHooks {
  committed(samples: readonly MetricSample[], outcomes: readonly PollOutcome[]): void;
  deviceReachability(deviceId: number, unreachable: boolean): void;
}

export class MonitoringRuntime {
  readonly writer: MetricsWriter;
  readonly pipeline: Pipeline;
  readonly health: HealthMonitor;
  /** names the devices added by IP at their first successful poll */
  readonly identification: DeviceIdentification;
  private kv?: Deno.Kv;
  private upkeepTimer?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;
  private stopped = false;
  /** queue messages taken off the queue and committed, or refused as malformed */
  readonly queue = { delivered: 0, committed: 0, malformed: 0, failed: 0 };

  readonly queuePath: string;

  constructor(private readonly deps: RuntimeDeps) {
    const { db, settings } = deps;
    this.queuePath = deps.queuePath;
    this.health = new HealthMonitor(db, {
      pauseDevice: (id) => {
        deps.alerting?.deviceReachability(id, true);
        return this.pipeline.pauseDevice(id);
      },
      resumeDevice: (id) => {
        deps.alerting?.deviceReachability(id, false);
        return this.pipeline.resumeDevice(id);
      },
    }, {
      windowMs: settings.health.failure_window_ms,
      threshold: settings.health.failure_threshold,
      reactivateAfterMs: settings.health.reactivate_after_ms,
      probeIntervalMs: settings.health.probe_interval_ms,
      probe: deps.probe,
    });
    const p = settings.polling;
    this.identification = new DeviceIdentification(db, deps.keyring, {
      identify: hostIdentifier({
        pipelining: p.winrm_pipelining,
        kerberos: { allowRc4: settings.kerberos?.allow_rc4 ?? false },
      }),
      timeoutMs: p.timeout_ms,
      retryAfterMs: IDENTIFY_RETRY_MS,
      onIdentified: (id) => deps.events.emit({ entity: "device", id, action: "updated" }),
    });
    this.writer = new MetricsWriter(db, {
      onCommitted: (outcomes, _result, samples) => {
        try {
          deps.alerting?.committed(samples, outcomes);
        } catch (err) {
          log.error("alert evaluation failed: {message}", { message: (err as Error).message });
        }
        if (outcomes.length) {
          this.health.record(outcomes).catch((err) =>
            log.error("health monitor failed: {message}", { message: err.message })
          );
          this.identification.record(outcomes).catch((err) =>
            log.error("device identification failed: {message}", { message: err.message })
          );
        }
      },
    });
    const fd = fdBudgetFor(settings, deps.db.kind); // descriptors shared out
    configureConnectionBudget(fd.main);
    this.pipeline = new Pipeline(deps, {
      pollers: p.pollers,
      pollerConcurrency: p.concurrency,
      pollerMaxQueued: p.max_queued,
      pollerQueueBurstMs: p.queue_burst_ms,
      perHostLimit: p.per_host_limit,
      pollTimeoutMs: p.timeout_ms,
      retries: p.retries,
      retryBackoffMs: p.retry_backoff_ms,
      credentialTtlMs: p.credential_ttl_ms,
      winrmPipelining: p.winrm_pipelining,
      kerberosAllowRc4: settings.kerberos?.allow_rc4 ?? false,
      pluginDir: pluginDirOf(settings),
      winrmConnections: fd.perPoller,
      kvPath: deps.queuePath,
    });
  }

  async start(): Promise<void> {
    this.kv = await Deno.openKv(this.queuePath);
    const kv = this.kv;
    kv.listenQueue(async (message: unknown) => {
      this.queue.delivered++;
      let batch;
      try {
        batch = decodeBatch(message);
      } catch (err) {
        if (!(err instanceof ResultBatchFormatError)) throw err;
        // Retrying cannot fix it: keep it where an operator can look, and move on.
        this.queue.malformed++;
        await kv.set([...DEAD_LETTER_PREFIX, `malformed-${crypto.randomUUID()}`], message);
        return;
      }
      try {
        await this.writer.write(batch);
        this.queue.committed++;
      } catch (err) {
        this.queue.failed++;
        log.error("cannot commit result batch {batchId}: {message}; it will be redelivered", {
          batchId: batch.batchId,
          message: (err as Error).message,
        });
        throw err;
      }
    });
    await this.health.start();
    await this.pipeline.start();
    this.unsubscribe = this.deps.events.subscribe((event) => {
      if (event.entity !== "device") return;
      this.health.forgetDevice(event.id);
      this.identification.forget(event.id);
    });
    this.upkeepTimer = setInterval(() => void this.upkeep(), 3_600_000);
    await this.upkeep();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.upkeepTimer);
    this.unsubscribe?.();
    this.health.stop();
    await this.pipeline.stop();
    // Give the queue a moment to hand over what the pollers flushed, then stop committing.
    await this.settle(5_000);
    this.writer.stop();
    this.kv?.close();
  }

  /** Waits until every message enqueued so far has been committed, or the timeout passes. */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.pending() === 0) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.pending() === 0;
  }

  /** Messages enqueued by the pollers and not yet committed (an approximation of depth). */
  pending(): number {
    const enqueued = this.pipeline.stats().pollers.reduce((n, p) => n + p.enqueuedBatches, 0);
    return Math.max(0, enqueued - this.queue.committed - this.queue.malformed);
  }

  async deadLetters(limit = 10_000): Promise<number> {
    // After stop() the queue's store is closed; open it briefly to answer.
    const kv = this.stopped || !this.kv ? await Deno.openKv(this.queuePath) : this.kv;
    try {
      let n = 0;
      for await (const _ of kv.list({ prefix: [...DEAD_LETTER_PREFIX] }, { limit })) n++;
      return n;
    } finally {
      if (kv !== this.kv) kv.close();
    }
  }

  private async upkeep(): Promise<void> {
    try {
      await ensurePartitions(this.deps.db);
      // Native partitions past retention are dropped; on TimescaleDB the policies are set.
      const { dropped, changed } = await applyRetention(
        this.deps.db,
        this.deps.settings.metrics.retention_days,
      );
      if (dropped.length) log.info("dropped expired metrics partitions {dropped}", { dropped });
      if (changed.length) log.info("metrics retention policies set for {changed}", { changed });
      await ensureDetailPartitions(this.deps.db);
      const detail = await applyDetailRetention(this.deps.db, this.deps.settings.metrics);
      if (detail.length) log.info("dropped expired detail partitions {detail}", { detail });
    } catch (err) {
      log.error("metrics partition upkeep failed: {message}", { message: (err as Error).message });
    }
  }
}
