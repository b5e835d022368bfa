/**
 * The polling engine inside a poller Worker: bounded concurrency, at most `perHostLimit`
 * operations per target host, a timeout per attempt, up to `retries` retries with backoff, and
 * an outcome for every poll. Collection itself is injected (lib/collectors/registry.ts).
 *
 * Overload sheds instead of piling up: a monitor has at most one poll queued or running here
 * (each host always goes to the same poller Worker, so that holds fleet-wide), and the wait
 * queue holds at most `maxQueued` polls. A poll refused for either reason is dropped and
 * counted in `stats.skipped`; the scheduler has already moved the monitor to its next
 * deadline, so nothing is caught up in a burst later.
 *
 * Hosts that stop answering do not take the slots from the rest: a poll to a host whose last
 * poll timed out may hold its slot for the whole timeout, three times with the retries (~92 s
 * at the defaults), so when a site goes dark with more hosts than the concurrency, every other
 * host's polls would wait behind them until the health monitor gives up on the dead ones (five
 * failed polls, ~8 min). Polls to such hosts may hold at most `slowLane` slots at once (a
 * quarter of the concurrency); the others wait in the queue, where a monitor is not queued
 * twice, so a dead host is simply polled less often. When the queue is full, a poll to a host
 * that answers takes the place of a queued one to such a host. A poll that ends in anything but
 * a timeout takes its host out of the lane.
 *
 * `saturation` is the load at this instant, which swings: the monitors of a scheduler slot fall
 * due together, so a healthy poller is over its concurrency for a moment each second and idle
 * the rest. `loadMs` integrates the load over time (polls queued or running, times ms), so the
 * average over any span is the difference of two readings over the span's length.
 */
import type { Credential, MetricSample, PluginSpec, PollJob, PollOutcome } from "../messages.ts";
import { Histogram } from "../metrics/histogram.ts";
import { emptyFailureCounts, type FailureClass, failureClass } from "./failure_class.ts";

export interface PollerOptions {
  concurrency: number;
  perHostLimit: number;
  pollTimeoutMs: number;
  retries: number;
  /** backoff before retry n (1-based): base * 2^(n-1), with jitter */
  backoffBaseMs: number;
  /** polls that may wait for a slot; defaultMaxQueued(concurrency) when absent */
  maxQueued?: number;
  /** slots that polls to hosts whose last poll timed out may hold; defaultSlowLane when absent */
  slowLane?: number;
  getCredential(id: number): Promise<Credential>;
  collect(
    job: PollJob,
    plugin: PluginSpec,
    credential: Credential,
    signal: AbortSignal,
  ): Promise<MetricSample>;
  onSample(sample: MetricSample): void;
  onOutcome(outcome: PollOutcome): void;
  /**
   * A queued poll dropped after `submit` had accepted it: a full queue gave its place to a poll
   * to a host that answers (counted in `stats.skipped.queue_full`, no outcome)
   */
  onDropped?(job: PollJob): void;
  now?: () => number;
}

export const DURATION_BUCKETS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

/** The wait queue's default bound: a few rounds of the Worker's concurrency. */
export function defaultMaxQueued(concurrency: number): number {
  return Math.max(64, concurrency * 4);
}

/** The slots polls to hosts whose last poll timed out may hold: a quarter, at least 1. */
export function defaultSlowLane(concurrency: number): number {
  return Math.max(1, Math.floor(concurrency / 4));
}

/** What became of a submitted poll. */
export type SubmitResult = "queued" | "busy" | "queue_full" | "stopped";

/** Why a due poll was dropped: its previous poll was still in the poller, or the queue was full. */
export interface SkippedCounts {
  busy: number;
  queue_full: number;
}

interface Queued {
  job: PollJob;
  plugin: PluginSpec;
}

export class Poller {
  private readonly queue: Queued[] = [];
  /** monitors with a poll queued or running */
  private readonly pending = new Set<number>();
  private inFlight = 0;
  /** polls queued or running, integrated over time up to `loadAt` (poll-ms) */
  private loadIntegral = 0;
  private loadAt: number;
  readonly maxQueued: number;
  private readonly perHost = new Map<string, number>();
  /**
   * hosts whose last poll ended in a timeout, each until its next poll should have ended (two
   * intervals and every attempt's timeout on): a host that left the schedule (deactivated by the
   * health monitor, deleted) is forgotten rather than counted as silent for good
   */
  private readonly timedOut = new Map<string, number>();
  /** polls running to such hosts */
  private slowInFlight = 0;
  readonly slowLane: number;
  private stopped = false;
  readonly stats = {
    ok: 0,
    failed: 0,
    retried: 0,
    /** failed polls by why (failure_class.ts) */
    failedByClass: emptyFailureCounts(),
    /** due polls dropped instead of queued */
    skipped: { busy: 0, queue_full: 0 } as SkippedCounts,
    /** poll duration including retries, ms */
    duration: new Histogram(DURATION_BUCKETS_MS),
  };
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: PollerOptions) {
    this.maxQueued = Math.max(0, opts.maxQueued ?? defaultMaxQueued(opts.concurrency));
    this.slowLane = Math.max(1, opts.slowLane ?? defaultSlowLane(opts.concurrency));
    this.loadAt = this.now();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Brings the load integral up to now; called before every change of the load. */
  private accrue(): void {
    const t = this.now();
    if (t > this.loadAt) {
      this.loadIntegral += (this.inFlight + this.queue.length) * (t - this.loadAt);
      this.loadAt = t;
    }
  }

  /** Polls queued or running, integrated over time since the poller started (poll-ms). */
  get loadMs(): number {
    this.accrue();
    return this.loadIntegral;
  }

  get queued(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.inFlight;
  }

  /** hosts whose last poll timed out, polls running to them, and the slots they may hold */
  get slow(): { hosts: number; inFlight: number; lane: number } {
    const now = this.now();
    for (const [ip, until] of this.timedOut) if (until <= now) this.timedOut.delete(ip);
    return { hosts: this.timedOut.size, inFlight: this.slowInFlight, lane: this.slowLane };
  }

  /** polls that may run at once */
  get concurrency(): number {
    return this.opts.concurrency;
  }

  /** Polls queued and running over the Worker's concurrency: above 1, polls wait. */
  get saturation(): number {
    return (this.inFlight + this.queue.length) / this.opts.concurrency;
  }

  /**
   * Queues the poll, unless the monitor's previous poll is still queued or running ("busy") or
   * the wait queue is at its bound ("queue_full"): then the poll is dropped and counted.
   */
  submit(job: PollJob, plugin: PluginSpec): SubmitResult {
    if (this.stopped) return "stopped";
    if (this.pending.has(job.monitorId)) {
      this.stats.skipped.busy++;
      return "busy";
    }
    this.pending.add(job.monitorId);
    this.accrue();
    this.queue.push({ job, plugin });
    this.pump();
    // Only waiting counts against the bound: a free slot may have taken the poll at once. When
    // the queue is over its bound, nothing left it, so the poll just pushed is the last one.
    if (this.queue.length > this.maxQueued) {
      this.stats.skipped.queue_full++;
      // A poll to a host that answers takes the place of the newest queued poll to a host whose
      // last poll timed out: past ~4 x concurrency silent hosts, theirs would fill the queue
      // and every other due poll would be refused.
      const victim = this.timedOut.has(job.deviceIp) ? -1 : this.lastSlowQueued();
      if (victim < 0) {
        this.queue.pop();
        this.pending.delete(job.monitorId);
        return "queue_full";
      }
      const [dropped] = this.queue.splice(victim, 1);
      this.pending.delete(dropped.job.monitorId);
      this.opts.onDropped?.(dropped.job);
    }
    return "queued";
  }

  /** The index of the newest waiting poll (the new one aside) to a host that timed out, or -1. */
  private lastSlowQueued(): number {
    if (this.timedOut.size === 0) return -1;
    for (let i = this.queue.length - 2; i >= 0; i--) {
      if (this.timedOut.has(this.queue[i].job.deviceIp)) return i;
    }
    return -1;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.accrue();
    for (const q of this.queue) this.pending.delete(q.job.monitorId);
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      // the first queued job whose host has a free slot (and, for a host whose last poll timed
      // out, the slow lane too); others wait their turn
      const laneFull = this.slowInFlight >= this.slowLane;
      const index = this.queue.findIndex((q) =>
        (this.perHost.get(q.job.deviceIp) ?? 0) < this.opts.perHostLimit &&
        !(laneFull && this.timedOut.has(q.job.deviceIp))
      );
      if (index < 0) return;
      const [next] = this.queue.splice(index, 1);
      const slow = this.timedOut.has(next.job.deviceIp);
      if (slow) this.slowInFlight++;
      this.inFlight++;
      this.perHost.set(next.job.deviceIp, (this.perHost.get(next.job.deviceIp) ?? 0) + 1);
      this.run(next).finally(() => {
        this.accrue();
        this.inFlight--;
        if (slow) this.slowInFlight--;
        this.pending.delete(next.job.monitorId);
        const left = (this.perHost.get(next.job.deviceIp) ?? 1) - 1;
        if (left > 0) this.perHost.set(next.job.deviceIp, left);
        else this.perHost.delete(next.job.deviceIp);
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) {
          for (const w of this.idleWaiters.splice(0)) w();
        }
      });
    }
  }

  private async run({ job, plugin }: Queued): Promise<void> {
    const started = this.now();
    let attempts = 0;
    let lastError: ErrorInfo = { message: "not attempted", class: "other" };
    for (;;) {
      attempts++;
      const attemptedAt = this.now();
      try {
        const credential = await this.opts.getCredential(job.credentialProfileId);
        const sample = await withTimeout(
          (signal) => this.opts.collect(job, plugin, credential, signal),
          this.opts.pollTimeoutMs,
        );
        this.opts.onSample(sample);
        this.finish(job, { ok: true, attempts, attemptedAt, started });
        return;
      } catch (err) {
        lastError = describe(err);
        if (attempts > this.opts.retries || this.stopped || !retryable(lastError.kind)) {
          this.finish(job, { ok: false, attempts, attemptedAt, started, error: lastError });
          return;
        }
        this.stats.retried++;
        const delay = this.opts.backoffBaseMs * 2 ** (attempts - 1);
        await sleep(delay / 2 + Math.random() * delay / 2);
      }
    }
  }

  private finish(
    job: PollJob,
    r: {
      ok: boolean;
      attempts: number;
      attemptedAt: number;
      started: number;
      error?: ErrorInfo;
    },
  ): void {
    const durationMs = this.now() - r.started;
    if (r.error?.class === "timeout") {
      const attempts = (this.opts.retries + 1) * this.opts.pollTimeoutMs;
      this.timedOut.set(job.deviceIp, this.now() + 2 * job.intervalS * 1000 + attempts);
    } else this.timedOut.delete(job.deviceIp);
    if (r.ok) this.stats.ok++;
    else {
      this.stats.failed++;
      this.stats.failedByClass[r.error?.class ?? "other"]++;
    }
    this.stats.duration.observe(durationMs);
    this.opts.onOutcome({
      monitorId: job.monitorId,
      deviceId: job.deviceId,
      ok: r.ok,
      attempts: r.attempts,
      attemptedAt: r.attemptedAt,
      dueAt: job.dueAt,
      durationMs,
      ...(r.error
        ? {
          error: r.error.message.slice(0, 1000),
          errorKind: r.error.kind,
          errorClass: r.error.class,
        }
        : {}),
    });
  }
}

export class PollTimeoutError extends Error {
  override name = "PollTimeoutError";
  readonly kind = "timeout";
}

/** Authentication failures are not retried: repeated bad attempts lock domain accounts. */
function retryable(kind: string | undefined): boolean {
  return kind !== "auth" && kind !== "credential" && kind !== "access_denied";
}

interface ErrorInfo {
  message: string;
  kind?: string;
  class: FailureClass;
}

function describe(err: unknown): ErrorInfo {
  const e = err as { message?: string; kind?: string };
  return { message: e?.message ?? String(err), kind: e?.kind, class: failureClass(err) };
}

async function withTimeout<T>(fn: (signal: AbortSignal) => Promise<T>, ms: number): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      fn(controller.signal),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // reject before aborting, so the timeout (not the collector's abort error) is reported
          reject(new PollTimeoutError(`poll timed out after ${ms} ms`));
          controller.abort();
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
