/**
 * Discovery runs: a profile's target is swept (ICMP through fping when installed, TCP connect
 * to the profile's ports always). A host with one of those ports open is found; with the
 * credential's WinRM port open it is identified over WinRM and becomes (or refreshes) a device,
 * unique by IP. Ping replies are only counted: Windows' firewall drops ICMP by default and a
 * host that merely pings is not a Windows host. Progress (and the hosts not identified, with
 * why) is saved a few times a second, never per address; unreachable addresses are only counted.
 * An address counts as scanned when its TCP probes end: the ICMP sweep of its chunk runs beside
 * them and never holds the count back (it used to, so a /24 read "0 of 254" until it ended).
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type { Credential } from "../messages.ts";
import { discoveryProfilesRepo } from "../db/discovery_profiles.ts";
import {
  type DiscoveryProgress,
  type DiscoveryRun,
  discoveryRunsRepo,
  type UnidentifiedHost,
} from "../db/discovery_runs.ts";
import { deviceLifecycle } from "../inventory/device_lifecycle.ts";
import { decryptCredential } from "../inventory/credential_profiles.ts";
import { parseTarget } from "./targets.ts";
import { findFping, openPorts, pingAlive } from "./probe.ts";
import { Limiter, sweep } from "./sweep.ts";

/** The reachability probes a run uses (probe.ts); tests substitute slow or stuck ones. */
export interface DiscoveryProbes {
  openPorts(ip: string, ports: readonly number[], timeoutMs: number): Promise<number[]>;
  /** null when ICMP is unavailable */
  pingAlive(ips: readonly string[], timeoutMs: number, signal: AbortSignal): Promise<
    Set<string> | null
  >;
  pingAvailable(): Promise<boolean>;
}

const SYSTEM_PROBES: DiscoveryProbes = {
  openPorts,
  pingAlive,
  pingAvailable: async () => (await findFping()) !== null,
};

/** Addresses handed to one fping process and probed together: small enough that progress moves. */
const SWEEP_CHUNK = 64;

const log = getLogger(["nmslite", "discovery"]);

export interface HostIdentity {
  hostname: string;
  domain?: string | null;
  os?: string | null;
  osVersion?: string | null;
  serial?: string | null;
  totalMemoryBytes?: number | null;
}

/** Asks a host who it is over WinRM with the profile's credential (lib/collectors). */
export type IdentifyHost = (
  ip: string,
  credential: Credential,
  signal: AbortSignal,
) => Promise<HostIdentity>;

export interface DiscoveryOptions {
  /** addresses probed at once */
  concurrency: number;
  probeTimeoutMs: number;
  /** hosts identified over WinRM at once */
  identifyConcurrency: number;
  identifyTimeoutMs: number;
  /** ICMP through fping when installed */
  ping: boolean;
  probes?: DiscoveryProbes;
}

export const DEFAULT_DISCOVERY_OPTIONS: DiscoveryOptions = {
  concurrency: 256,
  probeTimeoutMs: 1_000,
  identifyConcurrency: 16,
  identifyTimeoutMs: 15_000,
  ping: true,
};

export class DiscoveryProfileNotFoundError extends Error {
  override name = "DiscoveryProfileNotFoundError";
}

interface ActiveRun {
  controller: AbortController;
  done: Promise<void>;
}

export class DiscoveryService {
  private readonly active = new Map<number, ActiveRun>();

  constructor(
    private readonly db: Database,
    private readonly keyring: Keyring,
    private readonly identify: IdentifyHost,
    private readonly opts: DiscoveryOptions = DEFAULT_DISCOVERY_OPTIONS,
  ) {}

  /** Creates the run and starts it in the background. */
  async start(profileId: number, userId: number | null): Promise<DiscoveryRun> {
    const profile = await discoveryProfilesRepo.get(this.db, profileId);
    if (!profile) throw new DiscoveryProfileNotFoundError(`discovery profile ${profileId}`);
    const run = await discoveryRunsRepo.create(this.db, {
      discovery_profile_id: profileId,
      addresses_total: profile.address_count,
      started_by: userId,
    });
    const controller = new AbortController();
    const done = this.execute(run.id, profile, controller.signal)
      .catch((err) =>
        log.error("discovery run {id} failed: {message}", { id: run.id, message: err.message })
      )
      .finally(() => this.active.delete(run.id));
    this.active.set(run.id, { controller, done });
    return run;
  }

  /** Resolves when the run has finished (at once when it is not running here). */
  async wait(runId: number): Promise<void> {
    await this.active.get(runId)?.done;
  }

  /** Asks a running run to stop; false when it is not running in this process. */
  cancel(runId: number): boolean {
    const run = this.active.get(runId);
    if (!run) return false;
    run.controller.abort();
    return true;
  }

  isActive(runId: number): boolean {
    return this.active.has(runId);
  }

  /** Stops every run (shutdown) and waits for them to record that they were cancelled. */
  async stopAll(): Promise<void> {
    for (const run of this.active.values()) run.controller.abort();
    await Promise.all([...this.active.values()].map((r) => r.done));
  }

  private async execute(
    runId: number,
    profile: { id: number; target: string; ports: number[]; credential_profile_id: number },
    signal: AbortSignal,
  ): Promise<void> {
    const progress: DiscoveryProgress = {
      addresses_scanned: 0,
      hosts_found: 0,
      identified: 0,
      failed: 0,
      ping_replies: 0,
    };
    const deviceIds: number[] = [];
    const unidentified: UnidentifiedHost[] = [];
    let status: "completed" | "failed" | "cancelled" = "completed";
    let error: string | null = null;
    const probes = this.opts.probes ?? SYSTEM_PROBES;
    let saved = "";
    const saver = setInterval(() => {
      const snapshot = JSON.stringify([progress, unidentified.length]);
      if (snapshot === saved) return;
      discoveryRunsRepo.saveProgress(this.db, runId, progress, sortedByIp(unidentified))
        .then(() => saved = snapshot, () => {});
    }, 300);
    try {
      const credential = await decryptCredential(
        this.db,
        this.keyring,
        profile.credential_profile_id,
      );
      const target = parseTarget(profile.target);
      const pingable = this.opts.ping && await probes.pingAvailable();
      await discoveryRunsRepo.markRunning(this.db, runId, pingable);
      // a `wmi` profile identifies over DCOM: activation on 135 (the profile's port)
      const wmi = credential.type === "wmi";
      const winrmPort =
        wmi && (!credential.port || credential.port === 5985 || credential.port === 5986)
          ? 135
          : credential.port;
      const identifyQueue = new Limiter(this.opts.identifyConcurrency);
      const identifications: Promise<void>[] = [];

      const onHost = (ip: string, ports: number[]) => {
        progress.hosts_found++;
        if (!ports.includes(winrmPort)) {
          progress.failed++;
          unidentified.push({
            ip,
            open_ports: ports,
            reason: `${wmi ? "RPC (WMI) port" : "WinRM port"} ${winrmPort} is closed (open: ${
              ports.join(", ")
            })`,
          });
          return;
        }
        identifications.push(identifyQueue.run(async () => {
          if (signal.aborted) return;
          try {
            const id = await this.identify(
              ip,
              credential,
              AbortSignal.any([signal, AbortSignal.timeout(this.opts.identifyTimeoutMs)]),
            );
            const host = {
              ip,
              discovery_profile_id: profile.id,
              hostname: id.hostname,
              domain: id.domain ?? null,
              os: id.os ?? null,
              os_version: id.osVersion ?? null,
              serial_number: id.serial ?? null,
              memory_total_bytes: id.totalMemoryBytes ?? null,
            };
            const device = await this.db.transaction((tx) => deviceLifecycle.discovered(tx, host));
            deviceIds.push(device.id);
            progress.identified++;
          } catch (err) {
            progress.failed++;
            unidentified.push({ ip, open_ports: ports, reason: describe(err) });
          }
        }));
      };

      await sweep(target.addresses(), {
        concurrency: this.opts.concurrency,
        chunk: SWEEP_CHUNK,
        signal,
        probe: async (chunk) => {
          const ping = pingable
            ? probes.pingAlive(chunk, this.opts.probeTimeoutMs, signal).then((alive) => {
              for (const ip of chunk) if (alive?.has(ip)) progress.ping_replies++;
            }, () => {})
            : undefined;
          await Promise.all(chunk.map(async (ip) => {
            const ports = await probes.openPorts(ip, profile.ports, this.opts.probeTimeoutMs);
            progress.addresses_scanned++;
            if (ports.length) onHost(ip, ports);
          }));
          await ping;
        },
      });
      await Promise.all(identifications);
      if (signal.aborted) status = "cancelled";
    } catch (err) {
      if (signal.aborted) status = "cancelled";
      else {
        status = "failed";
        error = describe(err);
      }
    } finally {
      clearInterval(saver);
    }
    await discoveryRunsRepo.finish(this.db, runId, {
      ...progress,
      status,
      error,
      device_ids: deviceIds.sort((a, b) => a - b),
      unidentified: sortedByIp(unidentified),
    });
    log.info(
      "discovery run {runId} {status}: {scanned} addresses, {found} hosts, {identified} identified, {failed} failed",
      {
        runId,
        status,
        scanned: progress.addresses_scanned,
        found: progress.hosts_found,
        identified: progress.identified,
        failed: progress.failed,
      },
    );
  }
}

function describe(err: unknown): string {
  const e = err as { message?: string; kind?: string };
  const message = e?.message ?? String(err);
  return e?.kind ? `${e.kind}: ${message}` : message;
}

/** At most 1,000 hosts, in address order. */
function sortedByIp(hosts: UnidentifiedHost[]): UnidentifiedHost[] {
  return [...hosts].sort((a, b) => ipOrder(a.ip) - ipOrder(b.ip)).slice(0, 1_000);
}

function ipOrder(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
