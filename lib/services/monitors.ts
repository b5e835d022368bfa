/**
 * Monitors: a device polled with a credential profile and a plugin. Adding the first monitor
 * puts the device under monitoring; removing the last releases it (device_lifecycle.ts).
 */
import type { Queryable } from "../db/driver.ts";
import { type Monitor, monitorsRepo, type MonitorWrite } from "../db/monitors.ts";
import { devicesRepo } from "../db/devices.ts";
import { credentialProfilesRepo } from "../db/credential_profiles.ts";
import { pluginsRepo } from "../db/plugins.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit, auditEach } from "../audit.ts";
import { deviceLifecycle } from "../inventory/device_lifecycle.ts";
import { found, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";

export class MonitorsService {
  constructor(private readonly deps: ServiceDeps) {}

  /** `q`: text in the device's host name or IP, the plugin's or credential profile's name */
  list(
    params: ListParams & { device_id?: number; enabled?: boolean; q?: string },
  ): Promise<Page<Monitor>> {
    return monitorsRepo.list(this.deps.db, params, {
      device_id: params.device_id,
      enabled: params.enabled,
      q: params.q,
    });
  }

  get(id: number): Promise<Monitor | undefined> {
    return monitorsRepo.get(this.deps.db, id);
  }

  create(
    actor: Actor,
    input: Omit<MonitorWrite, "config"> & { config?: MonitorWrite["config"] },
  ): Promise<Monitor> {
    const body: MonitorWrite = { ...input, config: input.config ?? {} };
    return change(this.deps, async (tx) => {
      await requireReferences(tx, body);
      const row = await monitorsRepo.create(tx, body);
      await deviceLifecycle.monitorAdded(tx, actor, body.device_id, row.id);
      await audit(tx, actor, "create", "monitor", row.id, { ...body });
      return row;
    }, (row) => ({ entity: "monitor", id: row.id, action: "created" }));
  }

  /** Fields left out keep their value. */
  update(actor: Actor, id: number, body: Partial<MonitorWrite>): Promise<Monitor> {
    return change(this.deps, async (tx) => {
      const existing = found(await monitorsRepo.get(tx, id), "monitor", id);
      const write: MonitorWrite = {
        device_id: body.device_id ?? existing.device_id,
        credential_profile_id: body.credential_profile_id ?? existing.credential_profile_id,
        plugin_id: body.plugin_id ?? existing.plugin_id,
        polling_interval: body.polling_interval ?? existing.polling_interval,
        enabled: body.enabled ?? existing.enabled,
        config: body.config ?? existing.config,
      };
      await requireReferences(tx, write);
      const row = found(await monitorsRepo.update(tx, id, write), "monitor", id);
      if (write.device_id !== existing.device_id) {
        await deviceLifecycle.monitorAdded(tx, actor, write.device_id, id);
        await deviceLifecycle.monitorRemoved(tx, actor, existing.device_id, id);
      }
      await audit(tx, actor, "update", "monitor", id, { ...body });
      return row;
    }, () => ({ entity: "monitor", id, action: "updated" }));
  }

  /**
   * Enables or disables many monitors in one transaction. Ids that name no monitor are
   * reported, not refused; each monitor changed gets its audit entry and its change event
   * (the scheduler starts or stops it), one already in that state neither.
   */
  async setEnabled(actor: Actor, ids: number[], enabled: boolean): Promise<EnabledResult> {
    const wanted = [...new Set(ids)];
    const rows = await this.deps.db.transaction(async (tx) => {
      const rows = await monitorsRepo.setEnabled(tx, wanted, enabled);
      const changed = rows.filter((r) => r.changed).map((r) => r.id);
      await auditEach(tx, actor, "update", "monitor", changed, { enabled, bulk: true });
      return { all: rows, changed };
    });
    const found = new Set(rows.all.map((r) => r.id));
    const result: EnabledResult = {
      enabled,
      changed: rows.changed,
      unchanged: rows.all.filter((r) => !r.changed).map((r) => r.id),
      not_found: wanted.filter((id) => !found.has(id)).sort((a, b) => a - b),
    };
    for (const id of result.changed) {
      this.deps.events.emit({ entity: "monitor", id, action: "updated" });
    }
    return result;
  }

  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      const existing = found(await monitorsRepo.get(tx, id), "monitor", id);
      await monitorsRepo.delete(tx, id);
      await deviceLifecycle.monitorRemoved(tx, actor, existing.device_id, id);
      await audit(tx, actor, "delete", "monitor", id);
    }, () => ({ entity: "monitor", id, action: "deleted" }));
  }
}

/** What a bulk enable or disable did, by monitor id (ascending). */
export interface EnabledResult {
  enabled: boolean;
  /** now in the state asked for, and were not before */
  changed: number[];
  /** already in that state */
  unchanged: number[];
  /** no such monitor */
  not_found: number[];
}

/** 404 naming each missing reference, so the user fixes them all at once. */
async function requireReferences(db: Queryable, m: MonitorWrite): Promise<void> {
  const [device, credential, plugin] = await Promise.all([
    devicesRepo.get(db, m.device_id),
    credentialProfilesRepo.get(db, m.credential_profile_id),
    pluginsRepo.get(db, m.plugin_id),
  ]);
  const missing: string[] = [];
  if (!device) missing.push(`device ${m.device_id}`);
  if (!credential) missing.push(`credential profile ${m.credential_profile_id}`);
  if (!plugin) missing.push(`plugin ${m.plugin_id}`);
  if (missing.length > 0) {
    throw new ServiceError(404, "NOT_FOUND", `${missing.join(", ")} not found`, {
      missing: missing.map((m) => m.replace(/ \d+$/, "").replace(" ", "_")),
    });
  }
}
