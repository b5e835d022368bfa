/**
 * The poller node's Workers: the same scheduler and poller Workers as the all-in-one
 * (workers/scheduler.ts, workers/poller.ts, same messages), fed from the central's assignment
 * instead of the database. Credentials come with the assignment and stay in this isolate's
 * memory; a poller asks for one as it does in-process.
 */
import { getLogger } from "@logtape/logtape";
import type {
  Credential,
  PluginSpec,
  PollerCommand,
  PollerEvent,
  PollerStats,
  PollJob,
  SchedulerCommand,
  SchedulerEvent,
} from "../messages.ts";
import { stopPoller, type WorkerUrls } from "../pipeline/pipeline.ts";
import type { NodeAssignment } from "../nodes/protocol.ts";
import { type FailureClass, sumFailureCounts } from "../polling/failure_class.ts";

const log = getLogger(["nmslite", "node", "pipeline"]);

/**
 * How long a poller holds results before it enqueues them (the all-in-one: 500 ms). The node's
 * shipper sends a request once its oldest result is SHIP_AT_AGE_MS old (poller_node.ts), so
 * time a result spends here is time the next request does not cover: a shorter hold means
 * fuller, fewer requests for the central at the same poll-to-row delay.
 */
const RESULT_DELAY_MS = 200;

export interface NodePipelineOptions {
  pollers: number;
  concurrency: number;
  perHostLimit: number;
  pollTimeoutMs: number;
  retries: number;
  retryBackoffMs: number;
  winrmPipelining: boolean;
  kerberosAllowRc4?: boolean;
  pluginDir: string;
  /** WinRM connections per poller Worker (its descriptor budget, lib/os/fd_limit.ts) */
  winrmConnections?: number;
  kvPath: string;
}

export class NodePipeline {
  private scheduler?: Worker;
  private readonly pollers: Worker[] = [];
  private plugins = new Map<number, PluginSpec>();
  private credentials = new Map<number, Credential>();
  readonly pollerStats = new Map<number, PollerStats>();
  monitors = 0;
  dispatched = 0;
  private statsTimer?: ReturnType<typeof setInterval>;

  constructor(private readonly workers: WorkerUrls, private readonly opts: NodePipelineOptions) {}

  start(): void {
    for (let i = 0; i < this.opts.pollers; i++) this.pollers.push(this.startPoller(i));
    this.scheduler = new Worker(this.workers.scheduler, { type: "module", name: "scheduler" });
    this.scheduler.onmessage = (e: MessageEvent<SchedulerEvent>) => {
      if (e.data.type === "due") { for (const job of e.data.jobs) this.dispatch(job); }
    };
    this.scheduler.onerror = (e) =>
      log.error("scheduler failed: {message}", { message: e.message });
    this.statsTimer = setInterval(() => {
      for (const w of this.pollers) w.postMessage({ type: "stats" } satisfies PollerCommand);
    }, 2_000);
  }

  /** The central's latest word: what to poll, with what. Replaces the previous one. */
  apply(a: Pick<NodeAssignment, "monitors" | "plugins" | "credentials">): void {
    this.plugins = new Map(a.plugins.map((p) => [p.id, p]));
    const next = new Map(a.credentials.map((c) => [c.id, c]));
    for (const [id, old] of this.credentials) {
      if (next.get(id)?.version !== old.version) {
        for (const w of this.pollers) {
          w.postMessage(
            { type: "credential-changed", credentialProfileId: id } satisfies PollerCommand,
          );
        }
      }
    }
    this.credentials = next;
    this.monitors = a.monitors.length;
    this.send({ type: "load", monitors: a.monitors });
  }

  /** Revoked: poll nothing more and forget every credential. */
  clear(): void {
    // every cached copy in the pollers goes too (apply() drops only the changed ones)
    for (const id of this.credentials.keys()) {
      for (const w of this.pollers) {
        w.postMessage(
          { type: "credential-changed", credentialProfileId: id } satisfies PollerCommand,
        );
      }
    }
    this.credentials.clear();
    this.apply({ monitors: [], plugins: [], credentials: [] });
  }

  polls(): number {
    let n = 0;
    for (const s of this.pollerStats.values()) n += s.polls.ok + s.polls.failed;
    return n;
  }

  /** failed polls by class (lib/polling/failure_class.ts), all poller Workers together */
  failedByClass(): Record<FailureClass, number> {
    return sumFailureCounts([...this.pollerStats.values()].map((s) => s.failedByClass));
  }

  /** the poller Workers' WinRM connections against their descriptor budget, summed */
  connections(): {
    open: number;
    idle: number;
    budget: number;
    evicted: number;
    exhausted: number;
  } {
    const c = { open: 0, idle: 0, budget: 0, evicted: 0, exhausted: 0 };
    for (const s of this.pollerStats.values()) {
      c.open += s.connections?.open ?? 0;
      c.idle += s.connections?.idle ?? 0;
      c.budget += s.connections?.max ?? 0;
      c.evicted += s.connections?.evicted ?? 0;
      c.exhausted += s.connections?.exhausted ?? 0;
    }
    return c;
  }

  /** due polls the Workers dropped (busy: the previous poll still ran; queue_full), summed */
  skipped(): { busy: number; queue_full: number } {
    const k = { busy: 0, queue_full: 0 };
    for (const s of this.pollerStats.values()) {
      k.busy += s.skipped?.busy ?? 0;
      k.queue_full += s.skipped?.queue_full ?? 0;
    }
    return k;
  }

  okPolls(): number {
    let n = 0;
    for (const s of this.pollerStats.values()) n += s.polls.ok;
    return n;
  }

  /** Lets the pollers finish and put their results into the buffer, then stops them. */
  async stop(): Promise<void> {
    clearInterval(this.statsTimer);
    this.send({ type: "stop" });
    this.scheduler?.terminate();
    await Promise.all(this.pollers.map((w) => stopPoller(w, 15_000)));
  }

  private send(cmd: SchedulerCommand): void {
    this.scheduler?.postMessage(cmd);
  }

  private dispatch(job: PollJob): void {
    const plugin = this.plugins.get(job.pluginId);
    if (!plugin) return;
    this.pollers[hashIp(job.deviceIp) % this.pollers.length].postMessage(
      { type: "poll", job, plugin } satisfies PollerCommand,
    );
    this.dispatched++;
  }

  private startPoller(index: number): Worker {
    const w = new Worker(this.workers.poller, { type: "module", name: `poller-${index}` });
    w.onmessage = (e: MessageEvent<PollerEvent>) => {
      const ev = e.data;
      if (ev.type === "stats") this.pollerStats.set(ev.stats.workerId, ev.stats);
      else if (ev.type === "credential-request") {
        const credential = this.credentials.get(ev.credentialProfileId) ?? null;
        w.postMessage(
          {
            type: "credential",
            requestId: ev.requestId,
            credential,
            ...(credential ? {} : { error: "the central sent no credential for this profile" }),
          } satisfies PollerCommand,
        );
      }
    };
    w.onerror = (e) => log.error("poller {index} failed: {message}", { index, message: e.message });
    w.postMessage(
      {
        type: "init",
        workerId: index,
        kvPath: this.opts.kvPath,
        concurrency: this.opts.concurrency,
        perHostLimit: this.opts.perHostLimit,
        pollTimeoutMs: this.opts.pollTimeoutMs,
        retries: this.opts.retries,
        retryBackoffMs: this.opts.retryBackoffMs,
        credentialTtlMs: 60_000,
        winrmPipelining: this.opts.winrmPipelining,
        kerberosAllowRc4: this.opts.kerberosAllowRc4,
        pluginDir: this.opts.pluginDir,
        winrmConnections: this.opts.winrmConnections,
        resultDelayMs: RESULT_DELAY_MS,
      } satisfies PollerCommand,
    );
    return w;
  }
}

/** FNV-1a of the address: one host, one poller (as lib/pipeline/pipeline.ts). */
function hashIp(ip: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ip.length; i++) {
    h ^= ip.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
