/**
 * Metrics of a monitor or a device, read-only: the latest sample with derived percentages,
 * and history downsampled for charts over a checked range.
 */
import type { Database } from "../db/driver.ts";
import { devicesRepo } from "../db/devices.ts";
import {
  type Breakdown,
  getMonitorRef,
  type History,
  history,
  latestSample,
  listDeviceMonitorRefs,
  MAX_HISTORY_RANGE_MS,
  type MonitorLatest,
} from "../metrics/reader.ts";
import { found, invalid } from "./errors.ts";

/** The history shown when no range is asked for: the last hour. */
export const DEFAULT_RANGE_MS = 3_600_000;

export interface HistoryRequest {
  from?: string;
  to?: string;
  points: number;
  breakdown?: Breakdown;
}

export class MetricsService {
  constructor(private readonly deps: { db: Database }) {}

  async latest(monitorId: number): Promise<MonitorLatest> {
    const { db } = this.deps;
    return await latestSample(db, found(await getMonitorRef(db, monitorId), "monitor", monitorId));
  }

  /** `to` defaults to now and `from` to an hour before it; at most 400 days. */
  async history(monitorId: number, q: HistoryRequest): Promise<History> {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_RANGE_MS);
    if (Number.isNaN(from.getTime())) throw invalid("from", "not a valid date");
    if (Number.isNaN(to.getTime())) throw invalid("to", "not a valid date");
    if (from >= to) throw invalid("from", "must be before to");
    if (to.getTime() - from.getTime() > MAX_HISTORY_RANGE_MS) {
      throw invalid("to", `the range may span at most ${MAX_HISTORY_RANGE_MS / 86_400_000} days`);
    }
    const { db } = this.deps;
    found(await getMonitorRef(db, monitorId), "monitor", monitorId);
    return await history(db, monitorId, { from, to, points: q.points, breakdown: q.breakdown });
  }

  /** The latest sample of each monitor of the device, by monitor id. */
  async ofDevice(deviceId: number): Promise<{ device_id: number; monitors: MonitorLatest[] }> {
    const { db } = this.deps;
    found(await devicesRepo.get(db, deviceId), "device", deviceId);
    const monitors = [];
    for (const m of await listDeviceMonitorRefs(db, deviceId)) {
      monitors.push(await latestSample(db, m));
    }
    return { device_id: deviceId, monitors };
  }
}
