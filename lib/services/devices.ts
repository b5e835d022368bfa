/** Devices: added by hand or by discovery, described by operators, deleted when unused. */
import { type Device, type DeviceFields, devicesRepo, type DeviceStatus } from "../db/devices.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit } from "../audit.ts";
import { deviceLifecycle } from "../inventory/device_lifecycle.ts";
import { found, inUse, notFound, ServiceError } from "./errors.ts";
import { sitesRepo } from "../db/sites.ts";
import { change, type ServiceDeps } from "./service.ts";

export type DeviceUpdate = DeviceFields & { status?: DeviceStatus };

/** The running pipeline's "poll now" (absent when this process does not poll). */
export interface PollNow {
  pollDeviceNow(
    deviceId: number,
  ): Promise<{ polled: number[]; skipped: number[]; busy: number[] }>;
}

export class DevicesService {
  /** `polling` answers the pipeline running now, if any */
  constructor(private readonly deps: ServiceDeps & { polling: () => PollNow | undefined }) {}

  /** `q`: text in the IP or host name */
  list(params: ListParams & { status?: DeviceStatus; q?: string }): Promise<Page<Device>> {
    return devicesRepo.list(this.deps.db, params, { status: params.status, q: params.q });
  }

  get(id: number): Promise<Device | undefined> {
    return devicesRepo.get(this.deps.db, id);
  }

  create(actor: Actor, fields: { ip: string; site_id?: number } & DeviceFields): Promise<Device> {
    return change(this.deps, async (tx) => {
      if (fields.site_id !== undefined && !await sitesRepo.exists(tx, fields.site_id)) {
        throw notFound("site", fields.site_id);
      }
      return await deviceLifecycle.added(tx, actor, fields);
    });
  }

  /** Descriptive fields, and the status an operator sets by hand. */
  update(actor: Actor, id: number, body: DeviceUpdate): Promise<Device> {
    return change(this.deps, async (tx) => {
      const { status, ...fields } = body;
      let row = found(await devicesRepo.update(tx, id, fields), "device", id);
      if (status) {
        await deviceLifecycle.setByOperator(tx, actor, id, status);
        row = found(await devicesRepo.get(tx, id), "device", id);
      }
      await audit(tx, actor, "update", "device", id, { fields: Object.keys(body) });
      return row;
    }, () => ({ entity: "device", id, action: "updated" }));
  }

  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      found(await devicesRepo.get(tx, id), "device", id);
      const monitors = await devicesRepo.monitorCount(tx, id);
      if (monitors > 0) throw inUse("Device", monitors, "monitor", { monitors });
      await devicesRepo.delete(tx, id);
      await audit(tx, actor, "delete", "device", id);
    });
  }

  /** Polls the device's enabled monitors now, outside their schedule (an operator's click). */
  async pollNow(actor: Actor, id: number) {
    const device = found(await devicesRepo.get(this.deps.db, id), "device", id);
    if (device.status === "unreachable" || device.status === "inactive") {
      throw new ServiceError(
        409,
        "DEVICE_NOT_POLLED",
        `device ${id} is ${device.status}: set its status to monitoring to poll it again`,
        { status: device.status },
      );
    }
    const polling = this.deps.polling();
    if (!polling) {
      throw new ServiceError(503, "UNAVAILABLE", "polling is turned off on this server");
    }
    const result = await polling.pollDeviceNow(id);
    if (result.polled.length + result.skipped.length + result.busy.length === 0) {
      throw new ServiceError(409, "NOTHING_TO_POLL", `device ${id} has no enabled monitor`);
    }
    await audit(this.deps.db, actor, "poll", "device", id, { monitors: result.polled });
    return { device_id: id, ...result };
  }
}
