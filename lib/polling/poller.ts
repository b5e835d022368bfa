/**
 * The polling engine inside a poller Worker: bounded concurrency, at most `perHostLimit`
 * operations per target host, a timeout per attempt, up to `retries` retries with backoff, and
 * an outcome for every poll. Collection itself is injected (lib/collectors/registry.ts).
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
  getCredential(id: number): Promise<Credential>;
  collect(
    job: PollJob,
    plugin: PluginSpec,
    credential: Credential,
    signal: AbortSignal,
  ): Promise<MetricSample>;
  onSample(sample: MetricSample): void;
  onOutcome(outcome: PollOutcome): void;
  now?: () => number;
}

export const DURATION_BUCKETS_MS = [50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

interface Queued {
  job: PollJob;
  plugin: PluginSpec;
}

export class Poller {
  private readonly queue: Queued[] = [];
  private inFlight = 0;
  private readonly perHost = new Map<string, number>();
  private stopped = false;
  readonly stats = {
    ok: 0,
    failed: 0,
    retried: 0,
    /** failed polls by why (failure_class.ts) */
    failedByClass: emptyFailureCounts(),
    /** poll duration including retries, ms */
    duration: new Histogram(DURATION_BUCKETS_MS),
  };
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly opts: PollerOptions) {}

  get queued(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.inFlight;
  }

  submit(job: PollJob, plugin: PluginSpec): void {
    if (this.stopped) return;
    this.queue.push({ job, plugin });
    this.pump();
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private pump(): void {
    while (this.inFlight < this.opts.concurrency && this.queue.length > 0) {
      // the first queued job whose host has a free slot; others wait their turn
      const index = this.queue.findIndex((q) =>
        (this.perHost.get(q.job.deviceIp) ?? 0) < this.opts.perHostLimit
      );
      if (index < 0) return;
      const [next] = this.queue.splice(index, 1);
      this.inFlight++;
      this.perHost.set(next.job.deviceIp, (this.perHost.get(next.job.deviceIp) ?? 0) + 1);
      this.run(next).finally(() => {
        this.inFlight--;
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
    const now = this.opts.now ?? Date.now;
    const started = now();
    let attempts = 0;
    let lastError: ErrorInfo = { message: "not attempted", class: "other" };
    for (;;) {
      attempts++;
      const attemptedAt = now();
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
    const now = (this.opts.now ?? Date.now)();
    const durationMs = now - r.started;
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
  return kind !== "auth" && kind !== "credential";
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
