/**
 * A device added by IP (API, dashboard) has no host name until someone asks the host. Its
 * first successful poll (scheduled or "poll now") asks it, as discovery does, with the
 * credential profile of the monitor that polled it. Each device is looked up in the database
 * once per process; after that an identified device costs one Set lookup per committed poll.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type { PollOutcome } from "../messages.ts";
import type { IdentifyHost } from "../discovery/discovery.ts";
import { Limiter } from "../discovery/sweep.ts";
import { devicesRepo } from "../db/devices.ts";
import { decryptCredential } from "./credential_profiles.ts";
import { deviceLifecycle } from "./device_lifecycle.ts";

const log = getLogger(["nmslite", "inventory"]);

export interface DeviceIdentificationOptions {
  identify: IdentifyHost;
  timeoutMs: number;
  /** least time between two attempts on a device whose host would not say who it is */
  retryAfterMs: number;
  /** identifications at once (a fleet added by IP answers its first polls together) */
  concurrency?: number;
  now?: () => number;
  /** a device got its name: scheduled jobs carry it (the Kerberos SPN), so they re-plan */
  onIdentified?: (deviceId: number) => void;
}

export class DeviceIdentification {
  /** devices known to have a name: never looked up again */
  private readonly named = new Set<number>();
  private readonly busy = new Set<number>();
  private readonly retryAt = new Map<number, number>();
  private readonly limiter: Limiter;
  readonly counters = { lookups: 0, identified: 0, failed: 0 };

  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly opts: DeviceIdentificationOptions,
  ) {
    this.limiter = new Limiter(opts.concurrency ?? 8);
  }

  /** Outcomes in commit order (MetricsWriter.onCommitted); resolves when the attempts end. */
  async record(outcomes: PollOutcome[]): Promise<void> {
    const now = this.opts.now?.() ?? Date.now();
    const polledBy = new Map<number, number>(); // device -> a monitor that just polled it
    for (const o of outcomes) {
      if (!o.ok || this.named.has(o.deviceId) || this.busy.has(o.deviceId)) continue;
      if ((this.retryAt.get(o.deviceId) ?? 0) > now) continue;
      polledBy.set(o.deviceId, o.monitorId);
    }
    if (polledBy.size === 0) return;
    const ids = [...polledBy.keys()];
    for (const id of ids) this.busy.add(id);
    try {
      this.counters.lookups++;
      const nameless = new Set(await devicesRepo.nameless(this.db, ids));
      for (const id of ids) if (!nameless.has(id)) this.named.add(id);
      await Promise.all(
        [...nameless].map((id) => this.limiter.run(() => this.identify(id, polledBy.get(id)!))),
      );
    } finally {
      for (const id of ids) this.busy.delete(id);
    }
  }

  /** The device changed (an operator may have cleared its name): look it up again. */
  forget(deviceId: number): void {
    this.named.delete(deviceId);
    this.retryAt.delete(deviceId);
  }

  private async identify(deviceId: number, monitorId: number): Promise<void> {
    try {
      const target = await devicesRepo.identifyTarget(this.db, monitorId);
      if (!target) return; // the monitor went away meanwhile; the next poll asks again
      const credential = await decryptCredential(this.db, this.keyring, target.credentialProfileId);
      const host = await this.opts.identify(
        target.ip,
        credential,
        AbortSignal.timeout(this.opts.timeoutMs),
      );
      const changed = await this.db.transaction((tx) =>
        deviceLifecycle.identified(tx, deviceId, host)
      );
      this.named.add(deviceId);
      this.retryAt.delete(deviceId);
      this.counters.identified++;
      if (changed) this.opts.onIdentified?.(deviceId);
      log.info("device {deviceId} identified as {hostname}", {
        deviceId,
        hostname: host.hostname,
      });
    } catch (err) {
      this.counters.failed++;
      this.retryAt.set(deviceId, (this.opts.now?.() ?? Date.now()) + this.opts.retryAfterMs);
      log.warn("cannot identify device {deviceId}: {message}", {
        deviceId,
        message: (err as Error).message,
      });
    }
  }
}
