/**
 * A Prometheus-style histogram kept where the values are measured (the metrics writer, each
 * poller) and rendered by self_metrics.ts: non-cumulative counts per upper bound, "+Inf"
 * included, and the sum. Plain data, so it crosses a Worker boundary as it is.
 */
export class Histogram {
  readonly buckets: Record<string, number>;
  sum = 0;

  constructor(readonly bounds: readonly number[]) {
    this.buckets = Object.fromEntries([...bounds.map(String), "+Inf"].map((b) => [b, 0]));
  }

  observe(v: number): void {
    const bound = this.bounds.find((b) => v <= b);
    this.buckets[bound === undefined ? "+Inf" : String(bound)]++;
    this.sum += v;
  }

  /** Adds the counts of another histogram with the same bounds (one per poller Worker). */
  add(buckets: Record<string, number>, sum: number): void {
    for (const [b, n] of Object.entries(buckets)) this.buckets[b] = (this.buckets[b] ?? 0) + n;
    this.sum += sum;
  }
}
