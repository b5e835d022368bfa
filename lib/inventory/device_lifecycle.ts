/**
 * A device's status changes here and nowhere else, as named transitions; each writes the
 * reason beside the status and an audit record (the actor is the user, or the system).
 *
 *   (new) ──────────────► discovered ──monitor added──► monitoring ──polls fail──► unreachable
 *                             ▲                             │  ▲                       │
 *                             └──── last monitor gone ──────┘  └──── probe answered ───┘
 *   an operator may set any status by hand (inactive pauses a device: nothing polls it)
 *
 * The functions take the caller's transaction (or database) and return whether the status
 * changed; the schedule follows through change events or the health monitor.
 */
import type { Queryable } from "../db/driver.ts";
import { type Device, type DeviceFields, devicesRepo, type DeviceStatus } from "../db/devices.ts";
import { type Actor, audit, SYSTEM } from "../audit.ts";

/** Who a host says it is (discovery and first-poll identification). */
export interface HostIdentity {
  hostname: string;
  domain?: string | null;
  os?: string | null;
  osVersion?: string | null;
  serial?: string | null;
  totalMemoryBytes?: number | null;
}

async function move(
  db: Queryable,
  actor: Actor,
  id: number,
  to: DeviceStatus,
  reason: string,
  when: Parameters<typeof devicesRepo.setStatus>[4],
): Promise<boolean> {
  const changed = await devicesRepo.setStatus(db, id, to, reason, when);
  if (changed) await audit(db, actor, "status", "device", id, { status: to, reason });
  return changed;
}

export const deviceLifecycle = {
  /** A device added by hand starts as discovered. */
  async added(
    db: Queryable,
    actor: Actor,
    fields: { ip: string; site_id?: number } & DeviceFields,
  ): Promise<Device> {
    const row = await devicesRepo.create(db, {
      ...fields,
      status_reason: `added by ${actor.username ?? "the system"}`,
    });
    await audit(db, actor, "create", "device", row.id, { ip: row.ip });
    return row;
  },

  /**
   * Discovery identified a host: a new device starts as discovered; a known one gets its
   * identity and last_seen refreshed and keeps its status.
   */
  async discovered(
    db: Queryable,
    host: Omit<Parameters<typeof devicesRepo.upsertDiscovered>[1], "status_reason">,
  ): Promise<{ id: number; created: boolean }> {
    const reason = `found by discovery profile ${host.discovery_profile_id}`;
    const device = await devicesRepo.upsertDiscovered(db, { ...host, status_reason: reason });
    if (device.created) {
      await audit(db, SYSTEM, "discover", "device", device.id, { ip: host.ip, reason });
    }
    return device;
  },

  /**
   * A device added by IP answered its first poll and said who it is: its host name, OS and
   * the rest are stored unless someone named it meanwhile; the status stays.
   */
  async identified(db: Queryable, id: number, host: HostIdentity): Promise<boolean> {
    const changed = await devicesRepo.setIdentity(db, id, {
      hostname: host.hostname,
      domain: host.domain ?? null,
      os: host.os ?? null,
      os_version: host.osVersion ?? null,
      serial_number: host.serial ?? null,
      memory_total_bytes: host.totalMemoryBytes ?? null,
    });
    if (changed) {
      await audit(db, SYSTEM, "identify", "device", id, { hostname: host.hostname, os: host.os });
    }
    return changed;
  },

  /** A monitor now polls the device: discovered -> monitoring (health's states stay). */
  monitorAdded(db: Queryable, actor: Actor, id: number, monitorId: number): Promise<boolean> {
    return move(db, actor, id, "monitoring", `monitor ${monitorId} added`, {
      from: ["discovered"],
    });
  },

  /** A monitor left the device: with none left, monitoring -> discovered. */
  monitorRemoved(db: Queryable, actor: Actor, id: number, monitorId: number): Promise<boolean> {
    return move(db, actor, id, "discovered", `monitor ${monitorId} removed; none left`, {
      from: ["monitoring"],
      unmonitored: true,
    });
  },

  /** Polls kept failing (health monitor): discovered or monitoring -> unreachable. */
  unreachable(db: Queryable, id: number, reason: string): Promise<boolean> {
    return move(db, SYSTEM, id, "unreachable", reason, { from: ["discovered", "monitoring"] });
  },

  /** A reachability probe answered: unreachable -> monitoring. */
  recovered(db: Queryable, id: number, reason: string): Promise<boolean> {
    return move(db, SYSTEM, id, "monitoring", reason, { from: ["unreachable"], seen: true });
  },

  /** An operator set the status by hand (re-enable, or pause as inactive). */
  setByOperator(db: Queryable, actor: Actor, id: number, to: DeviceStatus): Promise<boolean> {
    return move(db, actor, id, to, `set by ${actor.username ?? "the system"}`, {});
  },
};
