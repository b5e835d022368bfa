/**
 * Gathers a poller's samples and outcomes and hands them to the queue in batches: many
 * results per KV message (delivery tops out near 1,000 messages/s), flushed at least every
 * `maxDelayMs`. A failed enqueue keeps the results and tries again; nothing is dropped.
 */
import type { MetricSample, PollOutcome, ResultBatch } from "../messages.ts";

export interface ResultBatcherOptions {
  maxDelayMs: number;
  maxItems: number;
  pack(samples: MetricSample[], outcomes: PollOutcome[]): ResultBatch[];
  enqueue(batch: ResultBatch): Promise<void>;
  onError?(err: unknown): void;
}

export class ResultBatcher {
  private samples: MetricSample[] = [];
  private outcomes: PollOutcome[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  enqueuedBatches = 0;

  constructor(private readonly opts: ResultBatcherOptions) {}

  addSample(sample: MetricSample): void {
    this.samples.push(sample);
    this.schedule();
  }

  addOutcome(outcome: PollOutcome): void {
    this.outcomes.push(outcome);
    this.schedule();
  }

  get pending(): number {
    return this.samples.length + this.outcomes.length;
  }

  /** Sends everything gathered so far; resolves when it is in the queue. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.send());
    return this.flushing;
  }

  private schedule(): void {
    if (this.pending >= this.opts.maxItems) {
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => void this.flush(), this.opts.maxDelayMs);
    }
  }

  private async send(): Promise<void> {
    if (this.pending === 0) return;
    const samples = this.samples;
    const outcomes = this.outcomes;
    this.samples = [];
    this.outcomes = [];
    const batches = this.opts.pack(samples, outcomes);
    for (let i = 0; i < batches.length; i++) {
      try {
        await this.opts.enqueue(batches[i]);
        this.enqueuedBatches++;
      } catch (err) {
        this.opts.onError?.(err);
        // keep what was not sent and try again shortly
        for (const b of batches.slice(i)) {
          this.samples.push(...b.samples);
          this.outcomes.push(...b.outcomes);
        }
        this.timer ??= setTimeout(() => void this.flush(), 1_000);
        return;
      }
    }
  }
}
