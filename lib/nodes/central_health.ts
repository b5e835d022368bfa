/**
 * The health monitor of the central role (lib/health), run by one central process at a time:
 * the one holding the `health-monitor` lease (renewed every third of its life, taken over by
 * another process once it lapses). Every process commits node results; what they commit
 * (which devices answered, which failed and why) reaches the holder by NOTIFY, so devices
 * polled by nodes are deactivated exactly as the all-in-one deactivates its own. The holder
 * records its own commits directly. Leaving or rejoining the schedule is a device change
 * event (relayed to the other processes), on which every hub recomputes its nodes' work.
 * Recovery probes run on a live node of the device's site (NodeHub.onSite).
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config.ts";
import type { Database } from "../db/driver.ts";
import type { Notifier } from "../db/notify.ts";
import { leasesRepo } from "../db/leases.ts";
import type { EntityEvents } from "../entity_events.ts";
import { HealthMonitor, type HealthOutcome, type ProbeTarget } from "../health/health_monitor.ts";
import type { PollOutcome } from "../messages.ts";

const log = getLogger(["nmslite", "central", "health"]);
export const HEALTH_CHANNEL = "nmslite_health";
const LEASE = "health-monitor";
/** NOTIFY payloads must stay under 8000 bytes */
const MAX_PAYLOAD = 7_000;
const MAX_ERROR = 300;

/** [deviceId, attemptedAt, error] with error null for a success */
type Entry = [number, number, string | null];

export interface CentralHealthDeps {
  db: Database;
  events: EntityEvents;
  notifier: Notifier;
  probe: (device: ProbeTarget, timeoutMs: number) => Promise<number[]>;
}

export class CentralHealth {
  private readonly holder = crypto.randomUUID();
  private monitor?: HealthMonitor;
  private timer?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;
  private emitting = false;
  private renewing = false;
  /** outcomes passed on to the holder, and payloads received as the holder */
  readonly totals = { published: 0, received: 0 };

  constructor(
    private readonly deps: CentralHealthDeps,
    private readonly settings: Config["health"],
    private readonly leaseMs = 15_000,
  ) {}

  /** True while this process runs the health monitor. */
  get holding(): boolean {
    return this.monitor !== undefined;
  }

  async start(): Promise<void> {
    await this.deps.notifier.listen(HEALTH_CHANNEL, (payload) => this.received(payload));
    this.unsubscribe = this.deps.events.subscribe((event) => {
      // an operator changed the device (here or on another process): its history is void
      if (event.entity === "device" && !this.emitting) this.monitor?.forgetDevice(event.id);
    });
    this.timer = setInterval(() => void this.renew(), Math.max(100, this.leaseMs / 3));
    await this.renew();
  }

  stop(): void {
    clearInterval(this.timer);
    this.unsubscribe?.();
    this.monitor?.stop();
    this.monitor = undefined;
  }

  /** Outcomes this process committed (MetricsWriter.onCommitted), in commit order. */
  observe(outcomes: PollOutcome[]): void {
    if (!outcomes.length) return;
    if (this.monitor) {
      this.record(outcomes);
      return;
    }
    // A success after a success of the same device tells the window nothing new.
    const entries: Entry[] = [];
    const lastOk = new Set<number>();
    for (const o of outcomes) {
      if (o.ok) {
        if (lastOk.has(o.deviceId)) continue;
        lastOk.add(o.deviceId);
        entries.push([o.deviceId, o.attemptedAt, null]);
      } else {
        lastOk.delete(o.deviceId);
        entries.push([o.deviceId, o.attemptedAt, (o.error ?? "poll failed").slice(0, MAX_ERROR)]);
      }
    }
    for (const payload of chunks(entries)) {
      this.totals.published++;
      this.deps.notifier.publish(HEALTH_CHANNEL, payload).catch((err) =>
        log.warn("cannot pass poll outcomes to the health monitor: {message}", {
          message: (err as Error).message,
        })
      );
    }
  }

  private received(payload: string): void {
    if (!this.monitor) return;
    let entries: Entry[];
    try {
      entries = JSON.parse(payload);
    } catch {
      return;
    }
    this.totals.received++;
    this.record(
      entries.map(([deviceId, attemptedAt, error]) => ({
        deviceId,
        attemptedAt,
        ok: error === null,
        error: error ?? undefined,
      })),
    );
  }

  private record(outcomes: HealthOutcome[]): void {
    this.monitor?.record(outcomes).catch((err) =>
      log.error("health monitor failed: {message}", { message: (err as Error).message })
    );
  }

  private async renew(): Promise<void> {
    if (this.renewing) return;
    this.renewing = true;
    try {
      let held = false;
      try {
        held = await leasesRepo.take(this.deps.db, LEASE, this.holder, this.leaseMs);
      } catch (err) {
        log.warn("cannot renew the health monitor lease: {message}", {
          message: (err as Error).message,
        });
      }
      if (held && !this.monitor) {
        const monitor = new HealthMonitor(this.deps.db, {
          pauseDevice: (id) => Promise.resolve(this.changed(id)),
          resumeDevice: (id) => Promise.resolve(this.changed(id)),
        }, {
          windowMs: this.settings.failure_window_ms,
          threshold: this.settings.failure_threshold,
          reactivateAfterMs: this.settings.reactivate_after_ms,
          probeIntervalMs: this.settings.probe_interval_ms,
          probe: this.deps.probe,
        });
        await monitor.start();
        this.monitor = monitor;
        log.info("this central process runs the health monitor");
      } else if (!held && this.monitor) {
        this.monitor.stop();
        this.monitor = undefined;
        log.info("the health monitor lease went to another central process");
      }
    } catch (err) {
      log.error("cannot start the health monitor: {message}", { message: (err as Error).message });
    } finally {
      this.renewing = false;
    }
  }

  /** The device left or rejoined the schedule: every hub recomputes its nodes' work. */
  private changed(id: number): void {
    this.emitting = true;
    try {
      this.deps.events.emit({ entity: "device", id, action: "updated" });
    } finally {
      this.emitting = false;
    }
  }
}

function chunks(entries: Entry[]): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let size = 2;
  for (const e of entries) {
    const text = JSON.stringify(e);
    if (part.length && size + text.length + 1 > MAX_PAYLOAD) {
      out.push(`[${part.join(",")}]`);
      part = [];
      size = 2;
    }
    part.push(text);
    size += text.length + 1;
  }
  if (part.length) out.push(`[${part.join(",")}]`);
  return out;
}
