/**
 * What the all-in-one's runtime does in the background that the central role still needs,
 * run once across central processes through a lease (lib/db/leases.ts): the daily metrics
 * partitions and retention. Assignment needs no owner (every process computes the same
 * rendezvous); recovery probes and discovery for node sites are the nodes' (see docs).
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import { leasesRepo } from "../db/leases.ts";
import { ensurePartitions } from "../metrics/partitions.ts";
import { applyRetention } from "../metrics/timescale.ts";

const log = getLogger(["nmslite", "central"]);
const UPKEEP_EVERY_MS = 3_600_000;

export class CentralDuties {
  private timer?: ReturnType<typeof setInterval>;
  /** how many times this process did the upkeep (for tests and /metrics) */
  upkeeps = 0;

  constructor(private readonly db: Database, private readonly retentionDays: number) {}

  start(): void {
    this.timer = setInterval(() => void this.upkeep(), 60_000);
    void this.upkeep();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async upkeep(): Promise<boolean> {
    try {
      // A fresh holder name each time: the lease is taken only once it expired, so one
      // process, whichever asks first, does the upkeep once per period.
      if (!await leasesRepo.take(this.db, "metrics-upkeep", crypto.randomUUID(), UPKEEP_EVERY_MS)) {
        return false;
      }
      await ensurePartitions(this.db);
      await applyRetention(this.db, this.retentionDays);
      this.upkeeps++;
      return true;
    } catch (err) {
      log.error("metrics upkeep failed: {message}", { message: (err as Error).message });
      return false;
    }
  }
}
