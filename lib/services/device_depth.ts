/**
 * What the extended and full collection profiles tell about a device, read-only: services,
 * top processes, event log entries and device events (reboots). Every role may read them.
 */
import type { Database } from "../db/driver.ts";
import { devicesRepo } from "../db/devices.ts";
import {
  deviceEventLog,
  deviceEvents,
  deviceProcesses,
  deviceServices,
} from "../metrics/depth_reader.ts";
import { found, invalid } from "./errors.ts";

/** The event log shown when no range is asked for: the last day. */
export const DEFAULT_EVENT_RANGE_MS = 86_400_000;

export interface EventLogRequest {
  from?: string;
  to?: string;
  level?: string;
  source?: string;
  event_id?: number;
  log?: string;
  limit: number;
  offset: number;
}

export class DeviceDepthService {
  constructor(private readonly deps: { db: Database }) {}

  private async device(id: number) {
    return found(await devicesRepo.get(this.deps.db, id), "device", id);
  }

  async services(deviceId: number, q: { state?: string; start_mode?: string; name?: string }) {
    await this.device(deviceId);
    return await deviceServices(this.deps.db, deviceId, q);
  }

  async processes(deviceId: number, q: { sort: "cpu" | "memory"; name?: string }) {
    await this.device(deviceId);
    return await deviceProcesses(this.deps.db, deviceId, q);
  }

  async eventLog(deviceId: number, q: EventLogRequest) {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - DEFAULT_EVENT_RANGE_MS);
    if (Number.isNaN(from.getTime())) throw invalid("from", "not a valid date");
    if (Number.isNaN(to.getTime())) throw invalid("to", "not a valid date");
    if (from >= to) throw invalid("from", "must be before to");
    await this.device(deviceId);
    const { items, total } = await deviceEventLog(this.deps.db, deviceId, {
      from,
      to,
      level: q.level,
      source: q.source,
      event_id: q.event_id,
      log: q.log,
      limit: q.limit,
      offset: q.offset,
    });
    return { items, total, from, to };
  }

  async deviceEvents(deviceId: number, q: { kind?: string; limit: number }) {
    await this.device(deviceId);
    return await deviceEvents(this.deps.db, deviceId, q);
  }
}
