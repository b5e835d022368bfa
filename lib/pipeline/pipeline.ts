/**
 * The monitoring pipeline in the main isolate: the scheduler Worker fires due monitors, the
 * poller Workers collect (each host always goes to the same poller, so its per-host limit
 * holds fleet-wide), results come back through the Deno KV queue to the writer, and the
 * health monitor reads what the writer committed.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type {
  PluginSpec,
  PollerCommand,
  PollerEvent,
  PollerStats,
  PollJob,
  ScheduledMonitor,
  SchedulerCommand,
  SchedulerEvent,
  SchedulerStats,
} from "../messages.ts";
import type { EntityEvent, EntityEvents } from "../entity_events.ts";
import { decryptCredential } from "../inventory/credential_profiles.ts";
import { monitorsRepo } from "../db/monitors.ts";
import { pluginsRepo } from "../db/plugins.ts";
import {
  DEFAULT_QUEUE_BURST_MS,
  defaultMaxQueued,
  defaultSlowPool,
  queueHardCap,
} from "../polling/poller.ts";
import { IdBatches } from "../id_batches.ts";

const log = getLogger(["nmslite", "pipeline"]);

/** The Workers' module URLs, handed down from the composition root (workers/urls.ts). */
export interface WorkerUrls {
  scheduler: string;
  poller: string;
}

/** What the pipeline uses: the state tables, the keyring for credentials, change events. */
export interface PipelineDeps {
  db: Database;
  keyring: Keyring;
  events: EntityEvents;
  workers: WorkerUrls;
}

/** Least time between two "poll now" of one monitor. */
export const MANUAL_POLL_GAP_MS = 5_000;

export interface PipelineOptions {
  pollers: number;
  pollerConcurrency: number;
  /** polls that may wait in each poller Worker; absent: derived from the concurrency */
  pollerMaxQueued?: number;
  /** how long a Worker's queue past its bound counts as a burst; DEFAULT_QUEUE_BURST_MS if absent */
  pollerQueueBurstMs?: number;
  perHostLimit: number;
  pollTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  credentialTtlMs: number;
  /** polling.winrm_pipelining, handed to every poller Worker */
  winrmPipelining: boolean;
  /** kerberos.allow_rc4, handed to every poller Worker */
  kerberosAllowRc4?: boolean;
  /** plugins.dir: where exec plugins must live */
  pluginDir: string;
  /** WinRM connections per poller Worker (its descriptor budget, lib/os/fd_limit.ts) */
  winrmConnections?: number;
  kvPath: string | null;
}

export interface PipelineStats {
  scheduler: SchedulerStats | null;
  pollers: PollerStats[];
  dispatched: number;
  droppedNoPlugin: number;
  /**
   * due polls not handed to a poller Worker: the monitor's previous poll was still there
   * (busy), or the Worker held all it may run and queue (queue_full)
   */
  shed: { busy: number; queue_full: number };
}

/** What "poll now" did with each of a device's monitors. */
export interface PollNowResult {
  /** polls started */
  polled: number[];
  /** polled by hand less than MANUAL_POLL_GAP_MS ago: not again yet */
  skipped: number[];
  /** a poll of the monitor is already queued or running: not started twice */
  busy: number[];
}

export class Pipeline {
  private scheduler?: Worker;
  private readonly pollers: Worker[] = [];
  private plugins = new Map<number, PluginSpec>();
  private schedulerStats: SchedulerStats | null = null;
  private readonly pollerStats = new Map<number, PollerStats>();
  private dispatched = 0;
  private droppedNoPlugin = 0;
  private readonly shed = { busy: 0, queue_full: 0 };
  /** monitors with a poll handed to a poller Worker and not yet reported finished */
  private readonly pending = new Set<number>();
  /** per poller Worker: polls handed to it and not yet reported finished */
  private outstanding: number[] = [];
  /** per poller Worker: the polls it may hold (run at once + wait) */
  private capacity = 0;
  /** polls of the current scheduler tick, per poller Worker, posted together */
  private outbox: { job: PollJob; plugin: PluginSpec }[][] = [];
  private unsubscribe?: () => void;
  private statsTimer?: ReturnType<typeof setInterval>;
  /** monitor id -> when an operator last had it polled now */
  private readonly manualPolls = new Map<number, number>();
  /** monitors to read again and re-plan: a burst of changes costs a query per 1,000 */
  private readonly replans = new IdBatches(
    (ids) => this.replanMany(ids),
    (err, ids) =>
      log.error("cannot re-plan {count} monitor(s): {message}", {
        count: ids.length,
        message: err.message,
      }),
  );

  constructor(private readonly deps: PipelineDeps, private readonly opts: PipelineOptions) {}

  async start(): Promise<void> {
    this.plugins = await pluginsRepo.specs(this.deps.db);
    for (let i = 0; i < this.opts.pollers; i++) this.pollers.push(this.startPoller(i));
    this.outstanding = this.pollers.map(() => 0);
    this.outbox = this.pollers.map(() => []);
    // what a Worker may run (its slots and its slow pool, workers/poller.ts) and hold waiting
    this.capacity = this.opts.pollerConcurrency +
      defaultSlowPool(this.opts.pollerConcurrency, this.opts.winrmConnections) +
      queueHardCap(
        this.opts.pollerMaxQueued ?? defaultMaxQueued(this.opts.pollerConcurrency),
        this.opts.pollerQueueBurstMs ?? DEFAULT_QUEUE_BURST_MS,
      );
    this.scheduler = new Worker(this.deps.workers.scheduler, {
      type: "module",
      name: "scheduler",
    });
    this.scheduler.onmessage = (e: MessageEvent<SchedulerEvent>) => this.onSchedulerEvent(e.data);
    this.scheduler.onerror = (e) => {
      log.error("scheduler worker failed: {message}", { message: e.message });
    };
    this.send({ type: "load", monitors: await monitorsRepo.schedulable(this.deps.db) });
    this.unsubscribe = this.deps.events.subscribe((event) => {
      this.onEntityEvent(event).catch((err) =>
        log.error("cannot apply {entity} change: {message}", {
          entity: event.entity,
          message: (err as Error).message,
        })
      );
    });
    this.statsTimer = setInterval(() => this.requestStats(), 5_000);
  }

  /** Stops firing, lets the pollers finish and enqueue what they hold, then stops them. */
  async stop(): Promise<void> {
    clearInterval(this.statsTimer);
    this.unsubscribe?.();
    this.send({ type: "stop" });
    this.scheduler?.terminate();
    await Promise.all(this.pollers.map((w) => stopPoller(w, 30_000)));
  }

  stats(): PipelineStats {
    return {
      scheduler: this.schedulerStats,
      pollers: [...this.pollerStats.values()],
      dispatched: this.dispatched,
      droppedNoPlugin: this.droppedNoPlugin,
      shed: { ...this.shed },
    };
  }

  /**
   * Polls the device's schedulable monitors now, outside their schedule (an operator's "poll
   * now"); the results take the usual way through the queue and the writer. A monitor whose
   * poll is already queued or running is not polled twice (`busy`), and one polled this way
   * less than MANUAL_POLL_GAP_MS ago is skipped, so a repeated click cannot pile up polls
   * against one host. The Worker's capacity bound does not apply: an operator asked.
   */
  async pollDeviceNow(deviceId: number): Promise<PollNowResult> {
    const result: PollNowResult = { polled: [], skipped: [], busy: [] };
    const now = Date.now();
    for (const [id, at] of this.manualPolls) {
      if (now - at >= MANUAL_POLL_GAP_MS) this.manualPolls.delete(id);
    }
    for (const id of await monitorsRepo.idsOfDevice(this.deps.db, deviceId)) {
      const m = await monitorsRepo.schedulableOne(this.deps.db, id);
      if (!m) continue;
      if (this.manualPolls.has(id)) {
        result.skipped.push(id);
        continue;
      }
      if (this.pending.has(id)) {
        result.busy.push(id);
        continue;
      }
      const handed = this.dispatch({
        monitorId: m.monitorId,
        deviceId: m.deviceId,
        deviceIp: m.deviceIp,
        ...(m.deviceHostname ? { deviceHostname: m.deviceHostname } : {}),
        credentialProfileId: m.credentialProfileId,
        pluginId: m.pluginId,
        dueAt: now,
        intervalS: m.intervalS,
        ...(m.config ? { config: m.config } : {}),
      }, { manual: true });
      if (!handed) continue;
      this.manualPolls.set(id, now);
      result.polled.push(id);
    }
    this.flush();
    return result;
  }

  /** A device became unreachable (health monitor): its monitors leave the schedule. */
  async pauseDevice(deviceId: number): Promise<void> {
    const ids = await monitorsRepo.idsOfDevice(this.deps.db, deviceId);
    for (const id of ids) this.send({ type: "remove", monitorId: id });
    this.forget(ids);
  }

  /** Monitors left the schedule: the Workers drop their polls still waiting. */
  private forget(monitorIds: number[]): void {
    if (!monitorIds.length) return;
    for (const w of this.pollers) {
      w.postMessage({ type: "forget", monitorIds } satisfies PollerCommand);
    }
  }

  /** A device recovered or was re-enabled: its monitors are scheduled again. */
  async resumeDevice(deviceId: number): Promise<void> {
    for (const id of await monitorsRepo.idsOfDevice(this.deps.db, deviceId)) this.replans.add(id);
    await this.replans.settled();
  }

  private startPoller(index: number): Worker {
    const worker = new Worker(this.deps.workers.poller, {
      type: "module",
      name: `poller-${index}`,
    });
    worker.onmessage = (e: MessageEvent<PollerEvent>) => this.onPollerEvent(worker, e.data);
    worker.onerror = (e) =>
      log.error("poller {index} failed: {message}", { index, message: e.message });
    worker.postMessage(
      {
        type: "init",
        workerId: index,
        kvPath: this.opts.kvPath,
        concurrency: this.opts.pollerConcurrency,
        perHostLimit: this.opts.perHostLimit,
        pollTimeoutMs: this.opts.pollTimeoutMs,
        retries: this.opts.retries,
        retryBackoffMs: this.opts.retryBackoffMs,
        maxQueued: this.opts.pollerMaxQueued,
        queueBurstMs: this.opts.pollerQueueBurstMs,
        credentialTtlMs: this.opts.credentialTtlMs,
        winrmPipelining: this.opts.winrmPipelining,
        kerberosAllowRc4: this.opts.kerberosAllowRc4,
        pluginDir: this.opts.pluginDir,
        winrmConnections: this.opts.winrmConnections,
      } satisfies PollerCommand,
    );
    return worker;
  }

  private send(cmd: SchedulerCommand): void {
    this.scheduler?.postMessage(cmd);
  }

  private onSchedulerEvent(event: SchedulerEvent): void {
    if (event.type === "stats") {
      this.schedulerStats = event.stats;
      return;
    }
    for (const job of event.jobs) this.dispatch(job);
    this.flush();
  }

  /**
   * Puts the poll in its Worker's outbox (flush() posts it), unless the monitor's previous
   * poll is still in a Worker or the Worker holds all it may: then it is shed and counted, so
   * a Worker's inbox never grows past its capacity whatever the fleet. True when handed on.
   */
  private dispatch(job: PollJob, opts: { manual?: boolean } = {}): boolean {
    const plugin = this.plugins.get(job.pluginId);
    if (!plugin) {
      this.droppedNoPlugin++;
      return false;
    }
    if (this.pending.has(job.monitorId)) {
      this.shed.busy++;
      return false;
    }
    const index = hashIp(job.deviceIp) % this.pollers.length;
    if (!opts.manual && this.outstanding[index] >= this.capacity) {
      this.shed.queue_full++;
      return false;
    }
    this.pending.add(job.monitorId);
    this.outstanding[index]++;
    this.outbox[index].push({ job, plugin });
    this.dispatched++;
    return true;
  }

  /** One message per Worker for the polls gathered (structured clone shares the plugin). */
  private flush(): void {
    for (let i = 0; i < this.pollers.length; i++) {
      const polls = this.outbox[i];
      if (!polls.length) continue;
      this.outbox[i] = [];
      this.pollers[i].postMessage({ type: "polls", polls } satisfies PollerCommand);
    }
  }

  private async onPollerEvent(worker: Worker, event: PollerEvent): Promise<void> {
    if (event.type === "finished") {
      const index = this.pollers.indexOf(worker);
      for (const id of event.monitorIds) this.pending.delete(id);
      this.outstanding[index] = Math.max(0, this.outstanding[index] - event.monitorIds.length);
      return;
    }
    if (event.type === "stats") {
      this.pollerStats.set(event.stats.workerId, event.stats);
      return;
    }
    if (event.type !== "credential-request") return;
    try {
      const credential = await decryptCredential(
        this.deps.db,
        this.deps.keyring,
        event.credentialProfileId,
      );
      worker.postMessage(
        { type: "credential", requestId: event.requestId, credential } satisfies PollerCommand,
      );
    } catch (err) {
      worker.postMessage(
        {
          type: "credential",
          requestId: event.requestId,
          credential: null,
          error: (err as Error).message,
        } satisfies PollerCommand,
      );
    }
  }

  private async onEntityEvent(event: EntityEvent): Promise<void> {
    switch (event.entity) {
      case "monitor":
        if (event.action === "deleted") {
          this.send({ type: "remove", monitorId: event.id });
          this.forget([event.id]);
        } else this.replans.add(event.id);
        break;
      case "device":
        for (const id of await monitorsRepo.idsOfDevice(this.deps.db, event.id)) {
          this.replans.add(id);
        }
        break;
      case "credential_profile":
        for (const w of this.pollers) {
          w.postMessage(
            { type: "credential-changed", credentialProfileId: event.id } satisfies PollerCommand,
          );
        }
        break;
      case "plugin":
        this.plugins = await pluginsRepo.specs(this.deps.db);
        break;
    }
  }

  /** Reads the monitors again, many in one query, and tells the scheduler what became of them. */
  private async replanMany(ids: number[]): Promise<void> {
    const found = new Map(
      (await monitorsRepo.schedulableMany(this.deps.db, ids)).map((m) => [m.monitorId, m]),
    );
    const upserts: ScheduledMonitor[] = [], removes: number[] = [];
    for (const monitorId of ids) {
      const monitor = found.get(monitorId);
      if (monitor) upserts.push(monitor);
      else removes.push(monitorId);
    }
    if (ids.length) this.send({ type: "change", upserts, removes });
    this.forget(removes);
  }

  private requestStats(): void {
    this.send({ type: "stats" });
    for (const w of this.pollers) w.postMessage({ type: "stats" } satisfies PollerCommand);
  }
}

/** FNV-1a of the address: one host, one poller. */
function hashIp(ip: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ip.length; i++) {
    h ^= ip.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Asks a poller Worker to finish what it holds and waits for its "stopped" (at most `graceMs`),
 * then terminates it. Shared by the all-in-one pipeline and the poller node.
 */
export function stopPoller(w: Worker, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      w.terminate();
      resolve();
    }, graceMs);
    w.addEventListener("message", (e: MessageEvent<PollerEvent>) => {
      if (e.data.type === "stopped") {
        clearTimeout(timer);
        w.terminate();
        resolve();
      }
    });
    w.postMessage({ type: "stop" } satisfies PollerCommand);
  });
}
