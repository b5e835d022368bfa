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
import type { Notifier } from "../db/notify.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type { Credential } from "../messages.ts";
import { discoveryProfilesRepo } from "../db/discovery_profiles.ts";
import {
  type DiscoveryProgress,
  type DiscoveryRun,
  discoveryRunsRepo,
  type UnidentifiedHost,
} from "../db/discovery_runs.ts";
import { deviceLifecycle, type HostIdentity } from "../inventory/device_lifecycle.ts";
import { decryptCredential } from "../inventory/credential_profiles.ts";
import { parseTarget } from "./targets.ts";
import { LOCAL_SITE_ID } from "../db/sites.ts";
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

export type { HostIdentity } from "../inventory/device_lifecycle.ts";

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
  private nodes?: DiscoveryNodes;
  private notifier?: Notifier;

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
    if (this.remote(profile.site_id) && !(await this.nodes!.live(profile.site_id)).length) {
      throw new NoPollerNodeError(profile.site_id);
    }
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

  /**
   * Several central processes: a cancel that reaches a process other than the one running the
   * run is passed on by NOTIFY, and the process running it stops it.
   */
  async shareCancels(notifier: Notifier): Promise<void> {
    this.notifier = notifier;
    await notifier.listen(CANCEL_CHANNEL, (payload) => {
      const runId = Number(payload);
      if (Number.isInteger(runId)) this.cancel(runId);
    });
  }

  /** Asks the other central processes to cancel the run; false when there are none. */
  async cancelElsewhere(runId: number): Promise<boolean> {
    if (!this.notifier) return false;
    await this.notifier.publish(CANCEL_CHANNEL, String(runId));
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

  /** Runs of non-local sites go to one of the site's live poller nodes (compose wires it). */
  useNodes(nodes: DiscoveryNodes): void {
    this.nodes = nodes;
  }

  private async execute(
    runId: number,
    profile: {
      id: number;
      target: string;
      ports: number[];
      credential_profile_id: number;
      site_id: number;
    },
    signal: AbortSignal,
  ): Promise<void> {
    const state: ScanState = {
      progress: {
        addresses_scanned: 0,
        hosts_found: 0,
        identified: 0,
        failed: 0,
        ping_replies: 0,
      },
      unidentified: [],
    };
    const deviceIds: number[] = [];
    let status: "completed" | "failed" | "cancelled" = "completed";
    let error: string | null = null;
    let saved = "";
    const saver = setInterval(() => {
      const snapshot = JSON.stringify([state.progress, state.unidentified.length]);
      if (snapshot === saved) return;
      discoveryRunsRepo.saveProgress(this.db, runId, state.progress, sortedByIp(state.unidentified))
        .then(() => saved = snapshot, () => {});
    }, 300);
    const save = async (ip: string, id: HostIdentity) => {
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
    };
    try {
      const credential = await decryptCredential(
        this.db,
        this.keyring,
        profile.credential_profile_id,
      );
      const request = { target: profile.target, ports: profile.ports, credential };
      if (this.remote(profile.site_id)) {
        await this.executeOnNode(runId, profile.site_id, request, state, save, signal);
      } else {
        await scanTarget(request, this.identify, this.opts, signal, state, {
          started: (pingable) => discoveryRunsRepo.markRunning(this.db, runId, pingable),
          identified: save,
        });
      }
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
    const progress = state.progress;
    await discoveryRunsRepo.finish(this.db, runId, {
      ...progress,
      status,
      error,
      device_ids: deviceIds.sort((a, b) => a - b),
      unidentified: sortedByIp(state.unidentified),
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

  private remote(site: number): boolean {
    return site !== LOCAL_SITE_ID && this.nodes !== undefined;
  }

  /**
   * The scan runs on a node of the site, which reports progress and the hosts it identified
   * a few times a second; the devices are written here, as a local run writes them.
   */
  private async executeOnNode(
    runId: number,
    site: number,
    request: ScanRequest,
    state: ScanState,
    save: (ip: string, id: HostIdentity) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    let writes = Promise.resolve();
    let running = false;
    /** hosts the node identified that could not be written here */
    const unwritten: UnidentifiedHost[] = [];
    const apply = (r: ScanReport) => {
      if (!running && r.pingable !== undefined) {
        running = true;
        const pingable = r.pingable;
        writes = writes.then(() => discoveryRunsRepo.markRunning(this.db, runId, pingable));
      }
      for (const h of r.hosts) {
        writes = writes.then(() =>
          save(h.ip, h.identity).catch((err) => {
            unwritten.push({ ip: h.ip, open_ports: h.ports, reason: describe(err) });
          })
        );
      }
      Object.assign(state.progress, r.progress, {
        identified: r.progress.identified - unwritten.length,
        failed: r.progress.failed + unwritten.length,
      });
      state.unidentified = [...r.unidentified, ...unwritten];
    };
    const cmd: DiscoverCommand = {
      kind: "discover",
      ...request,
      options: {
        concurrency: this.opts.concurrency,
        probeTimeoutMs: this.opts.probeTimeoutMs,
        identifyConcurrency: this.opts.identifyConcurrency,
        identifyTimeoutMs: this.opts.identifyTimeoutMs,
        ping: this.opts.ping,
      },
    };
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    const report = await Promise.race([
      // a cancelled run is stopped on the node too, not only given up on here
      this.nodes!.run(site, cmd, (partial) => apply(partial as ScanReport), signal),
      aborted,
    ]);
    if (!report.ok) {
      await writes;
      const e = report.error ?? { kind: "unexpected", message: "the node could not scan" };
      throw Object.assign(new Error(e.message), { kind: e.kind });
    }
    apply(report.result as ScanReport);
    await writes;
    apply({ ...(report.result as ScanReport), hosts: [] });
  }
}

/** NOTIFY channel of cancels between central processes (payload: the run id) */
const CANCEL_CHANNEL = "nmslite_discovery_cancel";

/** What a run needs of the poller nodes (lib/nodes/hub.ts). */
export interface DiscoveryNodes {
  /** live nodes of the site now */
  live(site: number): Promise<number[]>;
  /** runs the scan on a live node of the site; partial reports as it goes */
  run(
    site: number,
    cmd: DiscoverCommand,
    onPartial: (result: unknown) => void,
    /** aborted: the node is told to stop the scan */
    signal?: AbortSignal,
  ): Promise<{ ok: boolean; result?: unknown; error?: { kind: string; message: string } }>;
}

/** No poller node of the profile's site is live: the run cannot start. */
export class NoPollerNodeError extends Error {
  override name = "NoPollerNodeError";
  constructor(readonly site: number) {
    super(`no poller node of site ${site} is connected now`);
  }
}

export interface ScanRequest {
  target: string;
  ports: number[];
  credential: Credential;
}

/** The command a node runs for a discovery run of its site. */
export interface DiscoverCommand extends ScanRequest {
  kind: "discover";
  options: Omit<DiscoveryOptions, "probes">;
}

/** A node's progress report: the run's counts, and the hosts identified since the last. */
export interface ScanReport {
  pingable?: boolean;
  progress: DiscoveryProgress;
  unidentified: UnidentifiedHost[];
  hosts: { ip: string; ports: number[]; identity: HostIdentity }[];
}

export interface ScanState {
  progress: DiscoveryProgress;
  unidentified: UnidentifiedHost[];
}

/**
 * The part of a run that needs no database: sweep the target, identify the hosts whose WinRM
 * port is open. Runs in the server for its own site, on a poller node for the node's.
 * `identified` keeps a host (a failure there counts the host as failed).
 */
export async function scanTarget(
  request: ScanRequest,
  identify: IdentifyHost,
  opts: DiscoveryOptions,
  signal: AbortSignal,
  state: ScanState,
  hooks: {
    started(pingable: boolean): Promise<void> | void;
    identified(ip: string, identity: HostIdentity, ports: number[]): Promise<void> | void;
  },
): Promise<void> {
  const { progress, unidentified } = state;
  const probes = opts.probes ?? SYSTEM_PROBES;
  const credential = request.credential;
  const target = parseTarget(request.target);
  const pingable = opts.ping && await probes.pingAvailable();
  await hooks.started(pingable);
  // a `wmi` profile identifies over DCOM: activation on 135 (the profile's port)
  const wmi = credential.type === "wmi";
  const winrmPort =
    wmi && (!credential.port || credential.port === 5985 || credential.port === 5986)
      ? 135
      : credential.port;
  const identifyQueue = new Limiter(opts.identifyConcurrency);
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
        const id = await identify(
          ip,
          credential,
          AbortSignal.any([signal, AbortSignal.timeout(opts.identifyTimeoutMs)]),
        );
        await hooks.identified(ip, id, ports);
        progress.identified++;
      } catch (err) {
        progress.failed++;
        unidentified.push({ ip, open_ports: ports, reason: describe(err) });
      }
    }));
  };

  await sweep(target.addresses(), {
    concurrency: opts.concurrency,
    chunk: SWEEP_CHUNK,
    signal,
    probe: async (chunk) => {
      const ping = pingable
        ? probes.pingAlive(chunk, opts.probeTimeoutMs, signal).then((alive) => {
          for (const ip of chunk) if (alive?.has(ip)) progress.ping_replies++;
        }, () => {})
        : undefined;
      await Promise.all(chunk.map(async (ip) => {
        const ports = await probes.openPorts(ip, request.ports, opts.probeTimeoutMs);
        progress.addresses_scanned++;
        if (ports.length) onHost(ip, ports);
      }));
      await ping;
    },
  });
  await Promise.all(identifications);
}

function describe(err: unknown): string {
  const e = err as { message?: string; kind?: string };
  const message = e?.message ?? String(err);
  return e?.kind ? `${e.kind}: ${message}` : message;
}

/** At most 1,000 hosts, in address order. */
export function sortedByIp(hosts: UnidentifiedHost[]): UnidentifiedHost[] {
  return [...hosts].sort((a, b) => ipOrder(a.ip) - ipOrder(b.ip)).slice(0, 1_000);
}

function ipOrder(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}
