/**
 * The metrics writer: commits result batches from the queue into `metrics` in one statement
 * (INSERT … ON CONFLICT DO NOTHING, so a redelivered batch never duplicates a row) that also
 * records each poll's outcome on its monitor. Batches that
 * arrive while a commit runs are committed together in the next one (group commit). A caller
 * acknowledges a queue message only once `write()` resolved, i.e. after the rows committed.
 */
import { pgJson } from "../db/pg_json.ts";
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
   * it held (alert evaluation reads them). A batch this writer committed lately is not
   * reported again when the queue delivers it again.
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

/**
 * How many committed batch ids the writer remembers: the queue redelivers within seconds
 * (its backoff starts at 1 s), and a few hundred batches a second pass at 100,000 hosts.
 */
export const RECENT_BATCHES = 10_000;

interface Pending {
  batch: ResultBatch;
  resolve(): void;
  reject(err: unknown): void;
}

export class MetricsWriter {
  private pending: Pending[] = [];
  private running = false;
  private stopped = false;
  /** ids of the batches committed lately, oldest first */
  private readonly recent = new Set<string>();
  readonly totals = { batches: 0, inserted: 0, duplicates: 0, orphaned: 0, failedCommits: 0 };
  lastCommit: CommitResult | null = null;
  readonly commitMs = new Histogram(COMMIT_MS_BUCKETS);
  readonly batchRows = new Histogram(BATCH_ROWS_BUCKETS);
  /** due time of a successful poll to the commit of its row */
  readonly pollToRowMs = new Histogram(POLL_TO_ROW_MS_BUCKETS);

  constructor(private readonly db: Database, private readonly opts: MetricsWriterOptions = {}) {}

  /**
   * Resolves once the batch's rows and outcomes are committed. The commit starts after the
   * current task, so the batches of one ingest request (written one after another) share it.
   */
  write(batch: ResultBatch): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, resolve, reject });
      if (!this.running) {
        this.running = true;
        queueMicrotask(() => void this.drain());
      }
    });
  }

  /** Pending writes fail (their queue messages are redelivered later); nothing new starts. */
  stop(): void {
    this.stopped = true;
  }

  /** Runs while anything is pending; write() set `running` when it scheduled this. */
  private async drain(): Promise<void> {
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
    // A batch committed lately (or twice in this group) is the queue delivering it again: its
    // rows count as duplicates, and nothing of it is written or reported a second time. The
    // statement below refuses what this misses (after a restart, or past RECENT_BATCHES).
    const fresh: ResultBatch[] = [];
    const ids = new Set<string>();
    let again = 0;
    for (const b of batches) {
      if (this.recent.has(b.batchId) || ids.has(b.batchId)) {
        again += b.samples.length;
        continue;
      }
      ids.add(b.batchId);
      fresh.push(b);
    }
    const samples = fresh.flatMap((b) => b.samples);
    const outcomes = fresh.flatMap((b) => b.outcomes);
    const detail = samples.some(hasDetail);
    const params = [samplesJson(samples, detail), outcomesToJson(outcomes)];
    // Services, process lists, event-log entries and boots (extended and full profiles) go in
    // the same transaction; a standard commit stays one statement.
    const [counts] = !fresh.length
      ? [{ inserted: 0, kept: 0 }]
      : detail
      ? await this.db.transaction(async (tx) => {
        const counted = await tx.query<{ inserted: number; kept: number }>(COMMIT_SQL, params);
        await writeDetail(tx, samples);
        return counted;
      })
      : await this.db.query<{ inserted: number; kept: number }>(COMMIT_SQL, params);
    for (const id of ids) {
      this.recent.add(id);
      if (this.recent.size > RECENT_BATCHES) {
        this.recent.delete(this.recent.values().next().value!);
      }
    }
    const result: CommitResult = {
      batches: batches.length,
      rows: samples.length + again,
      inserted: counts.inserted,
      duplicates: counts.kept - counts.inserted + again,
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
 * $1: the samples as JSON, as MetricSample objects (samplesJson); PostgreSQL maps their keys
 * to columns, epoch ms to timestamptz, and rounds the integer columns half up as Math.round
 * does (round() on a float8 rounds half to even). $2: per monitor its latest outcome.
 * kept: rows whose monitor still exists; inserted: those not stored before (a redelivered
 * batch inserts nothing). An outcome applies only when it is later than the monitor's last
 * attempt, so a redelivered one does not add its failures again. Data-modifying CTEs run to
 * completion whether read or not.
 * Monitors are reached through their primary key by `id = ANY (ARRAY(…))`: joined to the
 * JSON rows directly (EXISTS, UPDATE … FROM), the planner read the whole monitors table twice
 * per commit, since a seq scan of a few thousand pages looks cheaper to it than a hundred
 * index probes (random_page_cost), while the table is in memory and the probes are not I/O.
 */
export const COMMIT_SQL = `
WITH s AS (
  SELECT "monitorId" AS monitor_id, to_timestamp(ts / 1000) AS ts,
    "cpuPercent" AS cpu_percent,
    floor("memoryTotal" + 0.5)::bigint AS memory_total,
    floor("memoryUsed" + 0.5)::bigint AS memory_used,
    floor("diskTotal" + 0.5)::bigint AS disk_total,
    floor("diskUsed" + 0.5)::bigint AS disk_used,
    "netSentBps" AS net_sent_bps, "netRecvBps" AS net_recv_bps,
    floor("netPacketsSent" + 0.5)::bigint AS net_packets_sent,
    floor("netPacketsRecv" + 0.5)::bigint AS net_packets_recv,
    floor("netErrors" + 0.5)::bigint AS net_errors,
    floor("netDiscards" + 0.5)::bigint AS net_discards,
    "netUtilization" AS net_utilization,
    floor("processCount" + 0.5)::integer AS process_count,
    floor("collectionMs" + 0.5)::integer AS collection_ms, volumes, interfaces,
    floor("uptimeS" + 0.5)::bigint AS uptime_s,
    floor("pageFileTotal" + 0.5)::bigint AS page_file_total,
    floor("pageFileUsed" + 0.5)::bigint AS page_file_used,
    "processorQueue" AS processor_queue, "contextSwitchesPs" AS context_switches_ps,
    "cpuCores" AS cpu_cores, "physicalDisks" AS physical_disks, partial
  FROM json_to_recordset($1::text::json) AS j(
    "monitorId" integer, ts float8, "cpuPercent" real, "memoryTotal" float8,
    "memoryUsed" float8, "diskTotal" float8, "diskUsed" float8, "netSentBps" float8,
    "netRecvBps" float8, "netPacketsSent" float8, "netPacketsRecv" float8, "netErrors" float8,
    "netDiscards" float8, "netUtilization" real, "processCount" float8, "collectionMs" float8,
    volumes jsonb, interfaces jsonb, "uptimeS" float8, "pageFileTotal" float8,
    "pageFileUsed" float8, "processorQueue" real, "contextSwitchesPs" float8, "cpuCores" jsonb,
    "physicalDisks" jsonb, partial jsonb)
), kept AS (
  SELECT s.* FROM s WHERE s.monitor_id IN (
    SELECT m.id FROM monitors m WHERE m.id = ANY (ARRAY(SELECT monitor_id FROM s)))
), o AS (
  SELECT * FROM json_to_recordset($2::text::json)
    AS o(monitor_id int, attempted_at timestamptz, ok bool, error text, failures int)
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
  FROM o
  WHERE m.id = o.monitor_id AND m.id = ANY (ARRAY(SELECT monitor_id FROM o))
    AND (m.last_attempted IS NULL OR o.attempted_at > m.last_attempted)
  RETURNING 1
)
SELECT (SELECT count(*) FROM ins)::int AS inserted, (SELECT count(*) FROM kept)::int AS kept`;

/**
 * The samples as the JSON COMMIT_SQL reads: the objects themselves, so V8's serializer runs
 * without a copy of each row (building snake_case rows with ISO dates cost 3-4 times as
 * much). NaN and Infinity become null, as the columns want. Samples of the extended and full
 * profiles (`detail`) go without what is not a column (processes, services, events:
 * detail_writer.ts).
 */
export function samplesJson(samples: MetricSample[], detail: boolean): string {
  if (!detail) return pgJson(samples);
  return pgJson(
    samples.map((
      { processes: _p, processNames: _n, services: _s, events: _e, bootTime: _b, ...row },
    ) => row),
  );
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
  return pgJson([...latest.values()].map(({ o, failures }) => ({
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
const json = (v: unknown) => v == null ? "" : `"${pgJson(v).replaceAll('"', '""')}"`;

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
