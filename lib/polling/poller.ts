/**
 * The polling engine inside a poller Worker: bounded concurrency, at most `perHostLimit`
 * operations per target host, a timeout per attempt, up to `retries` retries with backoff, and
 * an outcome for every poll. Collection itself is injected (lib/collectors/registry.ts).
 *
 * Overload sheds instead of piling up: a monitor has at most one poll queued or running here
 * (each host always goes to the same poller Worker, so that holds fleet-wide), and the wait
 * queue holds at most `maxQueued` polls, or up to four times that while its oldest poll has
 * waited less than `burstMs` (the polls of a scheduler slot arrive together: a queue that drains
 * as the next slot comes is a burst, not overload). A poll refused for either reason is dropped and
 * counted in `stats.skipped`; the scheduler has already moved the monitor to its next
 * deadline, so nothing is caught up in a burst later.
 *
 * Hosts that stop answering do not take the slots from the rest. A poll to a silent host holds
 * its slot for the whole timeout, three times with the retries (~92 s at the defaults), so when a
 * site goes dark with more hosts than the concurrency, every other host's polls would wait behind
 * them until the health monitor gives up on the dead ones (five failed polls, ~8 min). So
 * `concurrency` bounds the polls that are getting answers, and a second pool, the slow pool
 * (`slowPool` slots, outside the concurrency), takes the rest:
 *
 * - a poll still running `slowAfterMs` after it started (5 s at the defaults; a poll takes tens
 *   of milliseconds) moves into the slow pool while it has room, and frees its slot; with the
 *   pool full, it is cut short instead (a timeout, without its retries) when a poll waits for
 *   its slot, so a site gone dark under a tight descriptor budget (a pool of 84 under
 *   `ulimit -n 1024`) does not hold every slot for the whole timeout;
 * - an attempt that times out marks its host as timed out at once; a poll that is not in the
 *   slow pool by then and finds it full ends there, without its retries;
 * - a poll to a host whose last poll timed out starts in the slow pool, while fewer than
 *   `slowLane` polls are in it; the others wait in the queue, where a monitor is not queued
 *   twice, so a dead host is simply polled less often. When the queue is full, a poll to a
 *   host that answers takes the place of a queued one to a timed-out host. A poll that ends in
 *   anything but a timeout takes its host out of the lane, and a host not polled for two
 *   intervals after its last timeout (deactivated, deleted) is forgotten.
 *
 * The slow pool's polls are waiting on sockets, not working: they cost a descriptor each, so
 * the pool is sized within the Worker's connection budget (defaultSlowPool).
 *
 * The load is the polls in the slots and waiting for one (polls to silent hosts, in the slow
 * pool or waiting for it, are not: more concurrency would not help them). `saturation` is the
 * load over the concurrency at this instant, which swings: the monitors of a scheduler slot fall
 * due together, so a healthy poller is over its concurrency for a moment each second and idle
 * the rest. `loadMs` integrates the load over time (poll-ms), so the average over any span is
 * the difference of two readings over the span's length.
 */
import type {
  Credential,
  MetricSample,
  PluginSpec,
  PollJob,
  PollOutcome,
  SlowStats,
} from "../messages.ts";
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
  /**
   * A queue past `maxQueued` still takes a poll while its oldest poll has waited less than this
   * (a burst, not overload), up to queueHardCap; 0 or absent: `maxQueued` is a strict bound.
   */
  burstMs?: number;
  /**
   * polls to hosts whose last poll timed out start only while fewer than this many polls are in
   * the slow pool; defaultSlowLane when absent
   */
  slowLane?: number;
  /** slots for polls that are slow to answer, outside `concurrency`; defaultSlowPool if absent */
  slowPool?: number;
  /** a poll running this long moves into the slow pool; defaultSlowAfter if absent */
  slowAfterMs?: number;
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

/**
 * How long a queue past its bound counts as a burst (polling.queue_burst_ms): the monitors of a
 * 1 s scheduler slot fall due together, so at the rate of 100,000 hosts a minute a Worker gets
 * ~830 polls at once each second, and what the last slot left may still be waiting, ~1 s old.
 * A queue whose oldest poll has waited half a slot more than that is not keeping up: overload.
 * (At 16,667 hosts and 10 s the count bound alone shed 37 polls in 120 s with throughput to
 * spare, 1.5 s shed none; at 100,000 hosts and 60 s, past what the box can do, poll-to-row p99
 * was 2.95 s with the count bound alone, 2.98 s with 1.5 s and 4.91 s with 2 s.)
 */
export const DEFAULT_QUEUE_BURST_MS = 1_500;

/** The most polls a Worker ever holds waiting: its bound, or four times it during a burst. */
export function queueHardCap(maxQueued: number, burstMs: number): number {
  return burstMs > 0 ? 4 * maxQueued : maxQueued;
}

/** Polls to hosts whose last poll timed out start while the slow pool holds fewer than this. */
export function defaultSlowLane(concurrency: number): number {
  return Math.max(1, Math.floor(concurrency / 4));
}

/**
 * The slow pool: eight rounds of the concurrency, within the Worker's connection budget when
 * there is one, and never below the lane. The first interval of a site gone dark puts each of
 * its hosts' first polls here for their timeouts and retries (~92 s, longer than the interval,
 * so all of them at once): 1,600 slots hold that for 1,600 silent hosts a Worker (their later
 * polls take the lane).
 */
export function defaultSlowPool(concurrency: number, connections?: number): number {
  const room = connections === undefined ? Infinity : connections - concurrency;
  return Math.max(defaultSlowLane(concurrency), Math.min(8 * concurrency, room));
}

/** When a poll counts as slow: a sixth of the timeout, between 1 and 5 s. */
export function defaultSlowAfter(pollTimeoutMs: number): number {
  return Math.min(5_000, Math.max(1_000, Math.floor(pollTimeoutMs / 6)));
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
  /** when it was queued (now()) */
  at: number;
  /** its host had timed out when it was queued: it waits for the slow pool, not for a slot */
  slow: boolean;
}

/** A running poll: in the slow pool, or holding one of the `concurrency` slots. */
interface Running {
  slow: boolean;
  /** ends the attempt under way at once, as a timeout (set while an attempt runs) */
  cut?: (message: string) => void;
  /** cut short to free its slot: the poll ends without its retries */
  cutShort?: boolean;
}

export class Poller {
  private readonly queue: Queued[] = [];
  /** queued polls marked `slow` */
  private slowQueued = 0;
  /** monitors with a poll queued or running */
  private readonly pending = new Set<number>();
  /** running polls holding one of the `concurrency` slots, by when they started (oldest first) */
  private readonly fast = new Map<Running, number>();
  /** when the next poll becomes slow, while polls wait for a slot */
  private demotion: ReturnType<typeof setTimeout> | undefined;
  /** the load (`load`), integrated over time up to `loadAt` (poll-ms) */
  private loadIntegral = 0;
  private loadAt: number;
  readonly maxQueued: number;
  readonly burstMs: number;
  private readonly hardCap: number;
  private readonly perHost = new Map<string, number>();
  /**
   * hosts whose last poll ended in a timeout, each until its next poll should have ended (two
   * intervals and every attempt's timeout on): a host that left the schedule (deactivated by the
   * health monitor, deleted) is forgotten rather than counted as silent for good
   */
  private readonly timedOut = new Map<string, number>();
  /** running polls in the slow pool */
  private slowInFlight = 0;
  readonly slowLane: number;
  readonly slowPool: number;
  readonly slowAfterMs: number;
  private stopped = false;
  readonly stats = {
    ok: 0,
    failed: 0,
    retried: 0,
    /** polls moved into the slow pool while running */
    slowed: 0,
    /** polls that ended at a timeout without their retries: the slow pool was full */
    cutShort: 0,
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
    this.burstMs = Math.max(0, opts.burstMs ?? 0);
    this.hardCap = queueHardCap(this.maxQueued, this.burstMs);
    this.slowLane = Math.max(1, opts.slowLane ?? defaultSlowLane(opts.concurrency));
    this.slowPool = Math.max(this.slowLane, opts.slowPool ?? defaultSlowPool(opts.concurrency));
    this.slowAfterMs = opts.slowAfterMs ?? defaultSlowAfter(opts.pollTimeoutMs);
    this.loadAt = this.now();
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Brings the load integral up to now; called before every change of the load. */
  private accrue(): void {
    const t = this.now();
    if (t > this.loadAt) {
      this.loadIntegral += this.load * (t - this.loadAt);
      this.loadAt = t;
    }
  }

  /**
   * Polls in the slots or waiting for one: the slow pool's polls, and polls waiting for it, are
   * waiting on hosts that do not answer, which more concurrency would not help.
   */
  get load(): number {
    return this.fast.size + this.queue.length - this.slowQueued;
  }

  /** The load (polls in the slots or waiting for one), integrated over time (poll-ms). */
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

  private get inFlight(): number {
    return this.fast.size + this.slowInFlight;
  }

  /**
   * hosts whose last poll timed out, polls in the slow pool, the lane (below which timed-out
   * hosts' polls start) and the pool's size
   */
  get slow(): SlowStats {
    const now = this.now();
    for (const [ip, until] of this.timedOut) if (until <= now) this.timedOut.delete(ip);
    return {
      hosts: this.timedOut.size,
      inFlight: this.slowInFlight,
      lane: this.slowLane,
      pool: this.slowPool,
      moved: this.stats.slowed,
      cutShort: this.stats.cutShort,
    };
  }

  /** polls that may run at once */
  get concurrency(): number {
    return this.opts.concurrency;
  }

  /**
   * Polls in the slots and waiting for one, over the Worker's concurrency: above 1, polls wait.
   * (Polls to silent hosts, in the slow pool or waiting for it, do not count.)
   */
  get saturation(): number {
    return this.load / this.opts.concurrency;
  }

  /** Takes the queued poll at `index` out of the queue. */
  private take(index: number): Queued {
    const [q] = this.queue.splice(index, 1);
    if (q.slow) this.slowQueued--;
    return q;
  }

  /**
   * Queues the poll, unless the monitor's previous poll is still queued or running ("busy") or
   * the wait queue is at its bound and not in a burst ("queue_full"): then the poll is dropped
   * and counted.
   */
  submit(job: PollJob, plugin: PluginSpec): SubmitResult {
    if (this.stopped) return "stopped";
    if (this.pending.has(job.monitorId)) {
      this.stats.skipped.busy++;
      return "busy";
    }
    this.pending.add(job.monitorId);
    this.accrue();
    const slow = this.timedOut.has(job.deviceIp);
    if (slow) this.slowQueued++;
    this.queue.push({ job, plugin, slow, at: this.loadAt }); // accrue() has just read the clock
    this.pump();
    // Only waiting counts against the bound: a free slot may have taken the poll at once. When
    // the queue is over its bound, nothing left it, so the poll just pushed is the last one.
    if (this.queue.length > this.maxQueued && !this.inBurst()) {
      this.stats.skipped.queue_full++;
      // A poll to a host that answers takes the place of the newest queued poll to a host whose
      // last poll timed out: past ~4 x concurrency silent hosts, theirs would fill the queue
      // and every other due poll would be refused.
      const victim = this.timedOut.has(job.deviceIp) ? -1 : this.lastSlowQueued();
      if (victim < 0) {
        this.take(this.queue.length - 1);
        this.pending.delete(job.monitorId);
        return "queue_full";
      }
      const dropped = this.take(victim);
      this.pending.delete(dropped.job.monitorId);
      this.opts.onDropped?.(dropped.job);
    }
    return "queued";
  }

  /**
   * Whether a queue past its bound is a burst that drains: under the hard cap, with its oldest
   * poll queued less than `burstMs` ago. Overload leaves polls waiting longer than that, and
   * then the bound holds; so does a queue headed by a poll waiting for the slow lane.
   */
  private inBurst(): boolean {
    return this.queue.length <= this.hardCap && this.loadAt - this.queue[0].at < this.burstMs;
  }

  /** The index of the newest waiting poll (the new one aside) to a host that timed out, or -1. */
  private lastSlowQueued(): number {
    if (this.timedOut.size === 0) return -1;
    for (let i = this.queue.length - 2; i >= 0; i--) {
      if (this.timedOut.has(this.queue[i].job.deviceIp)) return i;
    }
    return -1;
  }

  /**
   * Drops the waiting polls of these monitors (deleted, disabled, paused): a silent host's
   * polls may wait long, and would still be run after the monitor was stopped. Polls already
   * running finish. Returns the jobs dropped.
   */
  forget(monitorIds: Iterable<number>): PollJob[] {
    const ids = new Set(monitorIds);
    const dropped: PollJob[] = [];
    if (!ids.size || !this.queue.length) return dropped;
    this.accrue();
    for (let i = this.queue.length - 1; i >= 0; i--) {
      if (!ids.has(this.queue[i].job.monitorId)) continue;
      const q = this.take(i);
      this.pending.delete(q.job.monitorId);
      dropped.push(q.job);
    }
    this.armSlowDown();
    if (this.inFlight === 0 && this.queue.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
    return dropped.reverse();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.demotion);
    this.demotion = undefined;
    this.accrue();
    for (const q of this.queue) this.pending.delete(q.job.monitorId);
    this.queue.length = 0;
    this.slowQueued = 0;
  }

  private pump(): void {
    this.slowDown();
    while (this.queue.length > 0) {
      const fastFree = this.fast.size < this.opts.concurrency;
      const laneFree = this.slowInFlight < this.slowLane && this.timedOut.size > 0;
      if (!fastFree && !laneFree) break;
      // the first queued job whose host has a free slot, in the pool its host's last poll
      // calls for (the slow pool, for a host whose last poll timed out); others wait their turn
      const index = this.queue.findIndex((q) =>
        (this.perHost.get(q.job.deviceIp) ?? 0) < this.opts.perHostLimit &&
        (this.timedOut.has(q.job.deviceIp) ? laneFree : fastFree)
      );
      if (index < 0) break;
      const next = this.take(index);
      const running: Running = { slow: this.timedOut.has(next.job.deviceIp) };
      if (running.slow) this.slowInFlight++;
      else this.fast.set(running, this.now());
      this.perHost.set(next.job.deviceIp, (this.perHost.get(next.job.deviceIp) ?? 0) + 1);
      this.run(next, running).finally(() => {
        this.accrue();
        if (running.slow) this.slowInFlight--;
        else this.fast.delete(running);
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
    this.armSlowDown();
  }

  /**
   * Moves polls running `slowAfterMs` or longer into the slow pool, while it has room. With the
   * pool full, such a poll is cut short (a timeout, without its retries) when a poll waits for
   * its slot: hosts that do not answer cannot hold every slot for the whole timeout.
   */
  private slowDown(): void {
    const now = this.now();
    const before = now - this.slowAfterMs;
    // polls waiting for a slot (not for the slow pool), less those a cut already frees;
    // counted when first needed: the pool is rarely full
    let wanted = -1;
    for (const [running, startedAt] of this.fast) {
      if (startedAt > before) return;
      if (this.slowInFlight < this.slowPool) {
        this.toSlowPool(running);
        continue;
      }
      if (wanted < 0) wanted = this.waitingForSlots();
      if (wanted <= 0) return;
      if (running.cutShort) {
        wanted--;
        continue;
      }
      if (!running.cut) continue; // between attempts: its backoff ends soon
      running.cutShort = true;
      wanted--;
      running.cut(
        `no answer in ${Math.round(now - startedAt)} ms; cut short before the ` +
          `${this.opts.pollTimeoutMs} ms timeout: the slow pool's ${this.slowPool} slots hold ` +
          "polls to hosts that do not answer, and polls wait for this slot",
      );
    }
  }

  /** Queued polls that will take a slot, not the slow pool: their host has not timed out. */
  private waitingForSlots(): number {
    if (this.timedOut.size === 0) return this.queue.length;
    let n = 0;
    for (const q of this.queue) if (!this.timedOut.has(q.job.deviceIp)) n++;
    return n;
  }

  private toSlowPool(running: Running): void {
    this.accrue();
    this.fast.delete(running);
    running.slow = true;
    this.slowInFlight++;
    this.stats.slowed++;
  }

  /**
   * While polls wait and every slot is taken, wakes the poller when its oldest poll becomes
   * slow (submissions and finished polls pump too; this covers a poller left with neither).
   */
  private armSlowDown(): void {
    const waiting = this.queue.length > this.slowQueued &&
      this.fast.size >= this.opts.concurrency && !this.stopped;
    if (!waiting) {
      clearTimeout(this.demotion);
      this.demotion = undefined;
      return;
    }
    if (this.demotion) return;
    // the oldest poll not already cut short (those free their slots on their own)
    let oldest: number | undefined;
    for (const [running, startedAt] of this.fast) {
      if (!running.cutShort) {
        oldest = startedAt;
        break;
      }
    }
    if (oldest === undefined) return;
    // already slow: nothing could be done for it just now (between attempts, or nobody waits
    // for its slot); look again shortly rather than at once, or the timer would spin
    const due = oldest + this.slowAfterMs - this.now();
    this.demotion = setTimeout(() => {
      this.demotion = undefined;
      this.pump();
    }, due > 0 ? due : RECHECK_MS);
  }

  private async run({ job, plugin }: Queued, running: Running): Promise<void> {
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
          running,
        );
        this.opts.onSample(sample);
        this.finish(job, { ok: true, attempts, attemptedAt, started });
        return;
      } catch (err) {
        lastError = describe(err);
        // cut short by slowDown(): its slot goes to a waiting poll, without the retries
        let cutShort = running.cutShort === true;
        if (lastError.class === "timeout") {
          // the host's next polls go to the lane from now, not after the retries; this poll
          // waits for its retries in the slow pool, or gives its slot back if that is full
          this.markTimedOut(job);
          if (!running.slow && !cutShort) {
            if (this.slowInFlight < this.slowPool) {
              this.toSlowPool(running);
              this.pump(); // its slot is free for a waiting poll
            } else cutShort = attempts <= this.opts.retries;
          }
        }
        if (
          attempts > this.opts.retries || this.stopped || !retryable(lastError.kind) || cutShort
        ) {
          if (cutShort) this.stats.cutShort++;
          this.finish(job, { ok: false, attempts, attemptedAt, started, error: lastError });
          return;
        }
        this.stats.retried++;
        const delay = this.opts.backoffBaseMs * 2 ** (attempts - 1);
        await sleep(delay / 2 + Math.random() * delay / 2);
      }
    }
  }

  /** The host timed out: until its next poll should have ended (two intervals and its attempts). */
  private markTimedOut(job: PollJob): void {
    const attempts = (this.opts.retries + 1) * this.opts.pollTimeoutMs;
    this.timedOut.set(job.deviceIp, this.now() + 2 * job.intervalS * 1000 + attempts);
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
    if (r.error?.class === "timeout") this.markTimedOut(job);
    else this.timedOut.delete(job.deviceIp);
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

/** How soon armSlowDown looks again at a poll already past slowAfterMs that it could not move. */
const RECHECK_MS = 50;

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

/** Runs `fn` for at most `ms`; `running.cut` ends it sooner, as a timeout too. */
async function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
  running: Running,
): Promise<T> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      fn(controller.signal),
      new Promise<never>((_, reject) => {
        // reject before aborting, so the timeout (not the collector's abort error) is reported
        const end = (message: string) => {
          reject(new PollTimeoutError(message));
          controller.abort();
        };
        running.cut = end;
        timer = setTimeout(() => end(`poll timed out after ${ms} ms`), ms);
      }),
    ]);
  } finally {
    running.cut = undefined;
    clearTimeout(timer);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
