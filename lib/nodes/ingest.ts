/**
 * POST /ingest: result batches from a poller node, committed by the metrics writer (COPY into
 * staging, INSERT … ON CONFLICT (monitor_id, ts) DO NOTHING) and acknowledged only after the
 * commit, so a node may resend a batch it is unsure about. A request is checked whole before
 * anything is written: every monitor must belong to the node's site, no row may lie in the
 * future beyond the allowed clock skew, and the batch must not exceed the row limit.
 *
 * The site of each monitor is remembered (SITE_TTL_MS), so that a request costs the database
 * one statement (the commit), not two. A device's site is set when it is created and never
 * changes, so a monitor changes site only by moving to another device: its monitor event, local
 * or relayed from another central process, forgets it; a break in the relay (events may have
 * been missed) forgets everything; and the TTL bounds what an event that never came could
 * leave stale. The TTL is long against polling intervals: a monitor reports once per interval,
 * and a memory shorter than that (it was 30 s) was stale at every row of a 60 s monitor.
 */
import type { Database } from "../db/driver.ts";
import type { ResultBatch } from "../messages.ts";
import type { MetricsWriter } from "../metrics/writer.ts";
import { monitorsRepo } from "../db/monitors.ts";
import type { NodeIdentity } from "../db/poller_nodes.ts";
import { ServiceError } from "../services/errors.ts";
import type { IngestResponse } from "./protocol.ts";
import type { EntityEvents } from "../entity_events.ts";

/** How long a monitor's site is trusted without reading it again (10 min). */
const SITE_TTL_MS = 600_000;
/** Past this many remembered monitors the memory starts afresh. */
const SITE_CACHE_MAX = 500_000;

export interface IngestLimits {
  /** samples + outcomes in one request */
  maxRows: number;
  /** how far past the central's clock a row's timestamp may be */
  maxFutureMs: number;
}

export class IngestService {
  /** what this process accepted, refused (by code) and committed */
  readonly totals = {
    requests: 0,
    batches: 0,
    rows: 0,
    inserted: 0,
    refused: {} as Record<string, number>,
  };

  /** monitor id -> its device, the device's site, and until when that is trusted */
  private readonly sites = new Map<number, { site: number; device: number; until: number }>();

  constructor(
    private readonly db: Database,
    private readonly writer: () => MetricsWriter,
    readonly limits: IngestLimits,
    events?: EntityEvents,
  ) {
    events?.subscribe((e) => {
      if (e.entity === "monitor") this.sites.delete(e.id);
      else if (e.entity === "all") this.sites.clear();
    });
  }

  async ingest(node: NodeIdentity, batches: ResultBatch[]): Promise<IngestResponse> {
    try {
      await this.check(node, batches);
    } catch (err) {
      if (err instanceof ServiceError) {
        this.totals.refused[err.code] = (this.totals.refused[err.code] ?? 0) + 1;
      }
      throw err;
    }
    // An outcome names its device, which the health monitor and alerting act on: the device is
    // the monitor's, whatever the node wrote (a node could otherwise mark another site's
    // devices unreachable through a monitor of its own), and an outcome of a monitor that no
    // longer exists is moot (its device may be anyone's).
    for (const b of batches) {
      b.outcomes = b.outcomes.flatMap((o) => {
        const device = this.sites.get(o.monitorId)?.device;
        return device === undefined ? [] : [{ ...o, deviceId: device }];
      });
    }
    const writer = this.writer();
    const before = { ...writer.totals };
    await Promise.all(batches.map((b) => writer.write(b)));
    const rows = batches.reduce((n, b) => n + b.samples.length, 0);
    this.totals.requests++;
    this.totals.batches += batches.length;
    this.totals.rows += rows;
    // Other requests may commit in the same group: the difference is an estimate, never a promise.
    const inserted = Math.min(rows, Math.max(0, writer.totals.inserted - before.inserted));
    this.totals.inserted += inserted;
    return { batches: batches.length, rows, inserted, duplicates: rows - inserted };
  }

  private async check(node: NodeIdentity, batches: ResultBatch[]): Promise<void> {
    let rows = 0;
    const ids = new Set<number>();
    const latest = Date.now() + this.limits.maxFutureMs;
    for (const [i, b] of batches.entries()) {
      rows += b.samples.length + b.outcomes.length;
      for (const s of b.samples) {
        ids.add(s.monitorId);
        if (s.ts > latest) {
          throw new ServiceError(
            400,
            "TIMESTAMP_IN_FUTURE",
            `batch ${i}: a row of monitor ${s.monitorId} is dated ${
              new Date(s.ts).toISOString()
            }, ` +
              `more than ${this.limits.maxFutureMs} ms ahead of the central's clock`,
            { batch: i, monitor_id: s.monitorId },
          );
        }
      }
      for (const o of b.outcomes) ids.add(o.monitorId);
    }
    if (rows > this.limits.maxRows) {
      throw new ServiceError(
        413,
        "BATCH_TOO_LARGE",
        `the request holds ${rows} rows; at most ${this.limits.maxRows} are accepted at once`,
        { rows, limit: this.limits.maxRows },
      );
    }
    const foreign = await this.ofOtherSites(ids, node.site_id);
    if (foreign.length) {
      throw new ServiceError(
        403,
        "MONITOR_NOT_OF_SITE",
        `monitor(s) ${foreign.slice(0, 10).join(", ")} belong to another site than this node's`,
        { monitor_ids: foreign.slice(0, 100) },
      );
    }
  }

  /** The monitors of `ids` whose device is in another site than `siteId`, ascending. */
  private async ofOtherSites(ids: Set<number>, siteId: number): Promise<number[]> {
    const now = Date.now();
    const foreign: number[] = [];
    const unknown: number[] = [];
    for (const id of ids) {
      const known = this.sites.get(id);
      if (!known || known.until <= now) unknown.push(id);
      else if (known.site !== siteId) foreign.push(id);
    }
    if (unknown.length) {
      if (this.sites.size + unknown.length > SITE_CACHE_MAX) this.sites.clear();
      for (const { id, site_id, device_id } of await monitorsRepo.sitesOf(this.db, unknown)) {
        this.sites.set(id, { site: site_id, device: device_id, until: now + SITE_TTL_MS });
        if (site_id !== siteId) foreign.push(id);
      }
    }
    return foreign.sort((a, b) => a - b);
  }
}
