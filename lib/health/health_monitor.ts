/**
 * The health monitor: reads every committed poll outcome into a per-device sliding failure
 * window; at the threshold the device becomes `unreachable` (reason recorded) and its monitors
 * leave the schedule. Unreachable devices get a cheap TCP probe of their WinRM ports after
 * `reactivateAfterMs`; one that answers goes back to `monitoring` and is scheduled again.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { PollOutcome } from "../messages.ts";
import { FailureWindow } from "./failure_window.ts";
import { openPorts } from "../discovery/probe.ts";
import { devicesRepo } from "../db/devices.ts";
import { deviceLifecycle } from "../inventory/device_lifecycle.ts";

const log = getLogger(["nmslite", "health"]);

export interface HealthMonitorOptions {
  windowMs: number;
  threshold: number;
  reactivateAfterMs: number;
  probeIntervalMs: number;
  probeTimeoutMs?: number;
  now?: () => number;
  /**
   * Which of the device's ports answer a reachability probe; by default probed from here.
   * The central role asks a node of the device's site instead (lib/nodes/central_health.ts).
   */
  probe?: (device: ProbeTarget, timeoutMs: number) => Promise<number[]>;
}

export interface ProbeTarget {
  id: number;
  ip: string;
  ports: number[];
  site_id: number;
}

/** What the health monitor reads of a poll outcome. */
export type HealthOutcome = Pick<PollOutcome, "deviceId" | "ok" | "error" | "attemptedAt">;

/** What the monitor asks of the pipeline when a device leaves or rejoins the schedule. */
export interface ScheduleControl {
  pauseDevice(deviceId: number): Promise<void>;
  resumeDevice(deviceId: number): Promise<void>;
}

export class HealthMonitor {
  private readonly window: FailureWindow;
  private timer?: ReturnType<typeof setInterval>;
  private probing = false;
  readonly counters = { deactivated: 0, reactivated: 0, probes: 0 };

  constructor(
    private readonly db: Database,
    private readonly schedule: ScheduleControl,
    private readonly opts: HealthMonitorOptions,
  ) {
    this.window = new FailureWindow({
      windowMs: opts.windowMs,
      threshold: opts.threshold,
      reactivateAfterMs: opts.reactivateAfterMs,
      now: opts.now,
    });
  }

  /** Picks up devices left unreachable before a restart, then probes on a timer. */
  async start(): Promise<void> {
    const rows = await devicesRepo.listUnreachable(this.db);
    for (const r of rows) this.window.markDeactivated(r.id, r.changed?.getTime());
    this.timer = setInterval(() => void this.probeDue(), this.opts.probeIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Outcomes in commit order (MetricsWriter.onCommitted). */
  async record(outcomes: HealthOutcome[]): Promise<void> {
    for (const o of outcomes) {
      if (o.ok) {
        this.window.recordSuccess(o.deviceId);
        continue;
      }
      const decision = this.window.recordFailure(
        o.deviceId,
        o.error ?? "poll failed",
        o.attemptedAt,
      );
      if (decision.action !== "deactivate") continue;
      const changed = await this.db.transaction((tx) =>
        deviceLifecycle.unreachable(tx, o.deviceId, decision.reason)
      );
      if (!changed) continue;
      this.counters.deactivated++;
      log.warn("device {deviceId} is unreachable: {reason}", {
        deviceId: o.deviceId,
        reason: decision.reason,
      });
      await this.schedule.pauseDevice(o.deviceId);
    }
  }

  /** An operator set the device's status by hand: its failure history no longer applies. */
  forgetDevice(deviceId: number): void {
    this.window.reactivated(deviceId);
  }

  /** One round of recovery probes; returns the devices that came back. */
  async probeDue(): Promise<number[]> {
    if (this.probing) return [];
    this.probing = true;
    const back: number[] = [];
    try {
      for (const deviceId of this.window.probesDue()) {
        const device = await devicesRepo.probeTarget(this.db, deviceId);
        if (!device || device.status !== "unreachable") {
          this.window.forget(deviceId);
          continue;
        }
        this.counters.probes++;
        const timeoutMs = this.opts.probeTimeoutMs ?? 2_000;
        let open: number[];
        try {
          open = this.opts.probe
            ? await this.opts.probe({ id: deviceId, ...device }, timeoutMs)
            : await openPorts(device.ip, device.ports, timeoutMs);
        } catch (err) {
          // e.g. no node of the device's site is live: it stays unreachable, asked again later
          log.warn("cannot probe device {deviceId}: {message}", {
            deviceId,
            message: (err as Error).message,
          });
          this.window.probeFailed(deviceId);
          continue;
        }
        if (open.length === 0) {
          this.window.probeFailed(deviceId);
          continue;
        }
        const reason = `recovered: port ${open[0]} answered a reachability probe`;
        const changed = await this.db.transaction((tx) =>
          deviceLifecycle.recovered(tx, deviceId, reason)
        );
        this.window.reactivated(deviceId);
        if (!changed) continue;
        this.counters.reactivated++;
        back.push(deviceId);
        log.info("device {deviceId} recovered; polling resumes", { deviceId });
        await this.schedule.resumeDevice(deviceId);
      }
    } catch (err) {
      log.error("recovery probes failed: {message}", { message: (err as Error).message });
    } finally {
      this.probing = false;
    }
    return back;
  }
}
