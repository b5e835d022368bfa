/**
 * Discovery: profiles (a target, ports and the credential profile to identify hosts with)
 * and their runs, started, awaited and cancelled through the DiscoveryService.
 */
import type { Queryable } from "../db/driver.ts";
import {
  type DiscoveryProfile,
  discoveryProfilesRepo,
  type DiscoveryProfileWrite,
} from "../db/discovery_profiles.ts";
import {
  type DiscoveryRun,
  discoveryRunsRepo,
  type DiscoveryRunStatus,
} from "../db/discovery_runs.ts";
import { credentialProfilesRepo } from "../db/credential_profiles.ts";
import { sitesRepo } from "../db/sites.ts";
import { type Device, devicesRepo } from "../db/devices.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { parseTarget, TargetError } from "../discovery/targets.ts";
import { WINDOWS_PORTS } from "../discovery/probe.ts";
import {
  DiscoveryProfileNotFoundError,
  type DiscoveryService,
  NoPollerNodeError,
} from "../discovery/discovery.ts";
import { type Actor, audit } from "../audit.ts";
import { found, invalid, notFound, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";

export interface DiscoveryProfileInput {
  name: string;
  credential_profile_id: number;
  target: string;
  ports?: number[];
  site_id?: number;
}

export class DiscoveryProfilesService {
  constructor(private readonly deps: ServiceDeps) {}

  /** `q`: text in the name */
  list(params: ListParams & { q?: string }): Promise<Page<DiscoveryProfile>> {
    return discoveryProfilesRepo.list(this.deps.db, params, params.q);
  }

  get(id: number): Promise<DiscoveryProfile | undefined> {
    return discoveryProfilesRepo.get(this.deps.db, id);
  }

  create(actor: Actor, body: DiscoveryProfileInput): Promise<DiscoveryProfile> {
    return change(this.deps, async (tx) => {
      const row = await discoveryProfilesRepo.create(tx, await toWrite(tx, body));
      await audit(tx, actor, "create", "discovery_profile", row.id, {
        name: row.name,
        target: row.target,
      });
      return row;
    });
  }

  /** Fields left out keep their value. */
  update(actor: Actor, id: number, body: Partial<DiscoveryProfileInput>) {
    return change(this.deps, async (tx) => {
      const existing = found(await discoveryProfilesRepo.get(tx, id), "discovery profile", id);
      const row = await discoveryProfilesRepo.update(
        tx,
        id,
        await toWrite(tx, { ...existing, ...body }),
      );
      await audit(tx, actor, "update", "discovery_profile", id, { fields: Object.keys(body) });
      return row;
    });
  }

  /** The devices it found stay. */
  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      if (!await discoveryProfilesRepo.delete(tx, id)) throw notFound("discovery profile", id);
      await audit(tx, actor, "delete", "discovery_profile", id);
    });
  }
}

export class DiscoveryRunsService {
  constructor(private readonly deps: ServiceDeps & { discovery: DiscoveryService }) {}

  /** Newest first unless sorted otherwise. */
  list(
    params: ListParams & { discovery_profile_id?: number; status?: DiscoveryRunStatus },
  ): Promise<Page<DiscoveryRun>> {
    const sorted = params.sort ? params : { ...params, sort: "id", order: "desc" as const };
    return discoveryRunsRepo.list(this.deps.db, sorted, {
      profileId: params.discovery_profile_id,
      status: params.status,
    });
  }

  get(id: number): Promise<DiscoveryRun | undefined> {
    return discoveryRunsRepo.get(this.deps.db, id);
  }

  /** Starts a run of the profile; it goes on in the background. */
  async start(actor: Actor, profileId: number): Promise<DiscoveryRun> {
    let run: DiscoveryRun;
    try {
      run = await this.deps.discovery.start(profileId, actor.userId);
    } catch (err) {
      if (err instanceof DiscoveryProfileNotFoundError) {
        throw notFound("discovery profile", profileId);
      }
      if (err instanceof NoPollerNodeError) {
        throw new ServiceError(503, "NO_POLLER_NODE", err.message, { site_id: err.site });
      }
      throw err;
    }
    await audit(this.deps.db, actor, "run", "discovery_profile", profileId, { run_id: run.id });
    return run;
  }

  /** Waits for the run to end: the devices it identified and the finished run. */
  async finished(runId: number): Promise<{ found: number; devices: Device[]; run: DiscoveryRun }> {
    await this.deps.discovery.wait(runId);
    const run = found(await discoveryRunsRepo.get(this.deps.db, runId), "discovery run", runId);
    const devices = [];
    for (const deviceId of run.device_ids) {
      const d = await devicesRepo.get(this.deps.db, deviceId);
      if (d) devices.push(d);
    }
    return { found: run.identified, devices, run };
  }

  /** 409 when the run is not running (here). */
  async cancel(actor: Actor, id: number): Promise<DiscoveryRun> {
    const run = found(await discoveryRunsRepo.get(this.deps.db, id), "discovery run", id);
    if (this.deps.discovery.cancel(id)) await this.deps.discovery.wait(id);
    else {
      // running in another central process (behind the same load balancer): it is asked
      // there, and this answers once that process has recorded the end
      const unfinished = (s: string) => s === "running" || s === "queued";
      if (!unfinished(run.status) || !(await this.deps.discovery.cancelElsewhere(id))) {
        throw new ServiceError(
          409,
          "CONFLICT",
          `discovery run ${id} is ${run.status}, not running`,
        );
      }
      const deadline = Date.now() + CANCEL_WAIT_MS;
      for (;;) {
        const now = await discoveryRunsRepo.get(this.deps.db, id);
        if (!now || !unfinished(now.status)) break;
        if (Date.now() > deadline) {
          throw new ServiceError(
            409,
            "CONFLICT",
            `discovery run ${id} was asked to stop but is still ${now.status}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await audit(this.deps.db, actor, "cancel", "discovery_run", id);
    return found(await discoveryRunsRepo.get(this.deps.db, id), "discovery run", id);
  }
}

/** how long a cancel passed to another central process may take to be recorded */
const CANCEL_WAIT_MS = 15_000;

async function toWrite(db: Queryable, body: DiscoveryProfileInput): Promise<DiscoveryProfileWrite> {
  let target;
  try {
    target = parseTarget(body.target);
  } catch (e) {
    if (e instanceof TargetError) throw invalid("target", e.message);
    throw e;
  }
  if (!await credentialProfilesRepo.get(db, body.credential_profile_id)) {
    throw notFound("credential profile", body.credential_profile_id);
  }
  if (body.site_id !== undefined && !await sitesRepo.exists(db, body.site_id)) {
    throw notFound("site", body.site_id);
  }
  return {
    site_id: body.site_id,
    name: body.name,
    credential_profile_id: body.credential_profile_id,
    target: target.text,
    address_count: target.count,
    ports: [...new Set(body.ports ?? WINDOWS_PORTS)],
  };
}
