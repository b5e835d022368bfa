/**
 * The metrics writer: commits result batches from the queue into `metrics` in one statement
 * (INSERT … ON CONFLICT DO NOTHING, so a redelivered batch never duplicates a row) that also
 * records each poll's outcome on its monitor. Batches that
 * arrive while a commit runs are committed together in the next one (group commit). A caller
 * acknowledges a queue message only once `write()` resolved, i.e. after the rows committed.
 */
import type { Database } from "../db/driver.ts";
import type { MetricSample, PollOutcome, ResultBatch } from "../messages.ts";
import { Histogram } from "./histogram.ts";
import { writeDetail } from "./detail_writer.ts";

export const METRIC_COLUMNS = [
  "monitor_id",
  "ts",
  "cpu_percent",
  "memory_total",
  "memory_used",
  "disk_total",
  "disk_used",
  "net_sent_bps",
  "net_recv_bps",
  "net_packets_sent",
  "net_packets_recv",
  "net_errors",
  "net_discards",
  "net_utilization",
  "process_count",
  "collection_ms",
  "volumes",
  "interfaces",
  // extended and full collection profiles (migration 0009); empty on a standard poll
  "uptime_s",
  "page_file_total",
  "page_file_used",
  "processor_queue",
  "context_switches_ps",
  "cpu_cores",
  "physical_disks",
  "partial",
] as const;

export interface CommitResult {
  batches: number;
  rows: number;
  inserted: number;
  /** rows already stored (a redelivered batch) */
  duplicates: number;
  /** rows whose monitor was deleted meanwhile */
  orphaned: number;
  outcomes: number;
  commitMs: number;
}

export interface MetricsWriterOptions {
  /**
   * After a commit: the outcomes it recorded (the health monitor reads them) and the samples
   * it held (alert evaluation reads them; a redelivered duplicate may appear again).
   */
  onCommitted?(outcomes: PollOutcome[], result: CommitResult, samples: MetricSample[]): void;
  /** How long a batch waits out an unreachable database before its message is redelivered. */
  outageRetryMs?: number;
  /** Upper bound of rows per group commit. */
  maxRowsPerCommit?: number;
}

/** Upper bounds of the writer's histograms (Prometheus style, non-cumulative counts). */
export const COMMIT_MS_BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500];
export const BATCH_ROWS_BUCKETS = [1, 10, 50, 100, 500, 1000, 5000, 20000];
export const POLL_TO_ROW_MS_BUCKETS = [
  250,
  500,
  750,
  1000,
  1500,
  2000,
  3000,
  5000,
  10000,
  30000,
  60000,
  300000,
];

interface Pending {
  batch: ResultBatch;
  resolve(): void;
  reject(err: unknown): void;
}

export class MetricsWriter {
  private pending: Pending[] = [];
  private running = false;
  private stopped = false;
  readonly totals = { batches: 0, inserted: 0, duplicates: 0, orphaned: 0, failedCommits: 0 };
  lastCommit: CommitResult | null = null;
  readonly commitMs = new Histogram(COMMIT_MS_BUCKETS);
  readonly batchRows = new Histogram(BATCH_ROWS_BUCKETS);
  /** due time of a successful poll to the commit of its row */
  readonly pollToRowMs = new Histogram(POLL_TO_ROW_MS_BUCKETS);

  constructor(private readonly db: Database, private readonly opts: MetricsWriterOptions = {}) {}

  /** Resolves once the batch's rows and outcomes are committed. */
  write(batch: ResultBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  /** Pending writes fail (their queue messages are redelivered later); nothing new starts. */
  stop(): void {
    this.stopped = true;
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length && !this.stopped) {
        const group = this.takeGroup();
        try {
          await this.commitWithRetry(group.map((p) => p.batch));
          for (const p of group) p.resolve();
        } catch (err) {
          this.totals.failedCommits++;
          if (group.length === 1 || !isTransient(err)) {
            // One bad batch must not hold back the others: retry them one by one.
            await this.commitEach(group, err);
          } else {
            for (const p of group) p.reject(err);
          }
        }
      }
      for (const p of this.pending.splice(0)) p.reject(new Error("metrics writer stopped"));
    } finally {
      this.running = false;
    }
  }

  private takeGroup(): Pending[] {
    const max = this.opts.maxRowsPerCommit ?? 20_000;
    let rows = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || rows < max)) {
      rows += this.pending[n].batch.samples.length + this.pending[n].batch.outcomes.length;
      n++;
    }
    return this.pending.splice(0, n);
  }

  private async commitEach(group: Pending[], firstError: unknown): Promise<void> {
    if (group.length === 1) return group[0].reject(firstError);
    for (const p of group) {
      try {
        await this.commitWithRetry([p.batch]);
        p.resolve();
      } catch (err) {
        p.reject(err);
      }
    }
  }

  private async commitWithRetry(batches: ResultBatch[]): Promise<CommitResult> {
    const deadline = Date.now() + (this.opts.outageRetryMs ?? 600_000);
    let delay = 250;
    while (true) {
      try {
        return await this.commit(batches);
      } catch (err) {
        if (!isTransient(err) || Date.now() + delay > deadline || this.stopped) throw err;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  /**
   * One statement, so one round trip and one implicit transaction: the samples of every batch
   * and the outcomes, handed over as two JSON parameters. (A staging table with COPY took six
   * statements and a temp-table truncation per commit; at a few hundred rows per commit the
   * statements, not the rows, were PostgreSQL's cost per poll.)
   */
  async commit(batches: ResultBatch[]): Promise<CommitResult> {
    const started = performance.now();
    const samples = batches.flatMap((b) => b.samples);
    const outcomes = batches.flatMap((b) => b.outcomes);
    const params = [samplesToJson(samples), outcomesToJson(outcomes)];
    // Services, process lists, event-log entries and boots (extended and full profiles) go in
    // the same transaction; a standard commit stays one statement.
    const [counts] = samples.some(hasDetail)
      ? await this.db.transaction(async (tx) => {
        const counted = await tx.query<{ inserted: number; kept: number }>(COMMIT_SQL, params);
        await writeDetail(tx, samples);
        return counted;
      })
      : await this.db.query<{ inserted: number; kept: number }>(COMMIT_SQL, params);
    const result: CommitResult = {
      batches: batches.length,
      rows: samples.length,
      inserted: counts.inserted,
      duplicates: counts.kept - counts.inserted,
      orphaned: samples.length - counts.kept,
      outcomes: outcomes.length,
      commitMs: performance.now() - started,
    };
    this.totals.batches += batches.length;
    this.totals.inserted += result.inserted;
    this.totals.duplicates += result.duplicates;
    this.totals.orphaned += result.orphaned;
    this.lastCommit = result;
    this.commitMs.observe(result.commitMs);
    this.batchRows.observe(result.rows + result.outcomes);
    const committedAt = Date.now();
    for (const o of outcomes) if (o.ok) this.pollToRowMs.observe(committedAt - o.dueAt);
    this.opts.onCommitted?.(outcomes, result, samples);
    return result;
  }
}

const COLUMN_LIST = METRIC_COLUMNS.join(", ");

/**
 * $1: the samples as a JSON array of metrics rows; $2: per monitor its latest outcome.
 * kept: rows whose monitor still exists; inserted: those not stored before (a redelivered
 * batch inserts nothing). Data-modifying CTEs run to completion whether read or not.
 */
const COMMIT_SQL = `
WITH s AS (
  SELECT * FROM json_populate_recordset(NULL::metrics, $1::text::json)
), kept AS (
  SELECT s.* FROM s WHERE EXISTS (SELECT 1 FROM monitors m WHERE m.id = s.monitor_id)
), ins AS (
  INSERT INTO metrics (${COLUMN_LIST}) SELECT ${COLUMN_LIST} FROM kept
  ON CONFLICT (monitor_id, ts) DO NOTHING RETURNING 1
), outcomes AS (
  UPDATE monitors m SET
    last_attempted = GREATEST(m.last_attempted, o.attempted_at),
    last_polled = CASE WHEN o.ok THEN GREATEST(m.last_polled, o.attempted_at) ELSE m.last_polled END,
    last_error = CASE WHEN o.ok THEN m.last_error ELSE o.error END,
    last_error_at = CASE WHEN o.ok THEN m.last_error_at ELSE o.attempted_at END,
    consecutive_failures = CASE WHEN o.ok THEN 0 ELSE m.consecutive_failures + o.failures END
  FROM json_to_recordset($2::text::json)
    AS o(monitor_id int, attempted_at timestamptz, ok bool, error text, failures int)
  WHERE m.id = o.monitor_id
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM kept)::int AS kept`;

/** The samples as metrics rows (JSON keys are the column names). */
export function samplesToJson(samples: MetricSample[]): string {
  const rows = new Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    rows[i] = {
      monitor_id: s.monitorId,
      ts: new Date(s.ts).toISOString(),
      cpu_percent: s.cpuPercent,
      memory_total: intOrNull(s.memoryTotal),
      memory_used: intOrNull(s.memoryUsed),
      disk_total: intOrNull(s.diskTotal),
      disk_used: intOrNull(s.diskUsed),
      net_sent_bps: s.netSentBps,
      net_recv_bps: s.netRecvBps,
      net_packets_sent: intOrNull(s.netPacketsSent),
      net_packets_recv: intOrNull(s.netPacketsRecv),
      net_errors: intOrNull(s.netErrors),
      net_discards: intOrNull(s.netDiscards),
      net_utilization: s.netUtilization,
      process_count: intOrNull(s.processCount),
      collection_ms: intOrNull(s.collectionMs),
      volumes: s.volumes ?? null,
      interfaces: s.interfaces ?? null,
      uptime_s: intOrNull(s.uptimeS),
      page_file_total: intOrNull(s.pageFileTotal),
      page_file_used: intOrNull(s.pageFileUsed),
      processor_queue: s.processorQueue ?? null,
      context_switches_ps: s.contextSwitchesPs ?? null,
      cpu_cores: s.cpuCores ?? null,
      physical_disks: s.physicalDisks ?? null,
      partial: s.partial ?? null,
    };
  }
  // NaN and Infinity become null, as the columns want
  return JSON.stringify(rows);
}

/** Per monitor the latest outcome; failures add to the consecutive count. */
export function outcomesToJson(outcomes: PollOutcome[]): string {
  const latest = new Map<number, { o: PollOutcome; failures: number }>();
  for (const o of outcomes) {
    const prev = latest.get(o.monitorId);
    const failures = o.ok
      ? 0
      : (prev && prev.o.attemptedAt <= o.attemptedAt ? prev.failures : 0) + 1;
    if (!prev || prev.o.attemptedAt <= o.attemptedAt) latest.set(o.monitorId, { o, failures });
  }
  return JSON.stringify([...latest.values()].map(({ o, failures }) => ({
    monitor_id: o.monitorId,
    attempted_at: new Date(o.attemptedAt).toISOString(),
    ok: o.ok,
    error: o.ok ? null : (o.error ?? "poll failed").slice(0, 2_000),
    failures,
  })));
}

/** Whether a sample carries rows beyond `metrics` (lib/metrics/detail_writer.ts). */
const hasDetail = (s: MetricSample) =>
  s.processes?.length || s.events?.length || s.bootTime !== undefined ||
  s.services !== undefined;

const intOrNull = (v: number | null | undefined) =>
  v == null || !Number.isFinite(v) ? null : Math.round(v);

export function samplesToCsv(samples: MetricSample[]): string {
  const lines: string[] = new Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i];
    lines[i] = [
      int(s.monitorId),
      new Date(s.ts).toISOString(),
      num(s.cpuPercent),
      int(s.memoryTotal),
      int(s.memoryUsed),
      int(s.diskTotal),
      int(s.diskUsed),
      num(s.netSentBps),
      num(s.netRecvBps),
      int(s.netPacketsSent),
      int(s.netPacketsRecv),
      int(s.netErrors),
      int(s.netDiscards),
      num(s.netUtilization),
      int(s.processCount),
      int(s.collectionMs),
      json(s.volumes),
      json(s.interfaces),
      int(s.uptimeS),
      int(s.pageFileTotal),
      int(s.pageFileUsed),
      num(s.processorQueue),
      num(s.contextSwitchesPs),
      json(s.cpuCores),
      json(s.physicalDisks),
      json(s.partial),
    ].join(",");
  }
  return lines.join("\n") + "\n";
}

// An unquoted empty field is NULL in CSV COPY.
const num = (v: number | null | undefined) => v == null || !Number.isFinite(v) ? "" : String(v);
const int = (v: number | null | undefined) =>
  v == null || !Number.isFinite(v) ? "" : String(Math.round(v));
const json = (v: unknown) => v == null ? "" : `"${JSON.stringify(v).replaceAll('"', '""')}"`;

/** Connection-level failures are worth waiting out; constraint or data errors are not. */
export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  if (!e) return false;
  if (e.name === "DatabaseUnavailableError") return true;
  const code = String(e.code ?? "");
  if (/^(08|57P|53)/.test(code)) return true; // connection, shutdown, resources
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "CONNECTION_CLOSED"].includes(code)) {
    return true;
  }
  if (code.startsWith("CONNECTION_") || code === "CONNECT_TIMEOUT") return true;
  // e.g. ALTER DATABASE … ALLOW_CONNECTIONS false during maintenance
  if (code === "55000" && /accepting connections/.test(e.message ?? "")) return true;
  return /connection (refused|reset|closed|terminated)|ECONNREFUSED/i.test(e.message ?? "");
}
