/**
 * Reading NMSlite's `GET /metrics` for the fleet benchmark: Prometheus text into a map,
 * counter deltas, histogram quantiles from bucket deltas, and the printed table.
 */

/** One scrape: `name{labels}` exactly as printed → value. */
export type Scrape = Map<string, number> & { at: number };

export function parseProm(text: string, at = Date.now()): Scrape {
  const m = new Map<string, number>() as Scrape;
  m.at = at;
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

/** `client`: for HTTPS, one that trusts the server's certificate */
export async function scrape(url: string, client?: Deno.HttpClient): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(30_000), client });
  if (res.status !== 200) throw new Error(`GET /metrics: HTTP ${res.status}`);
  return parseProm(await res.text());
}

/** The value of `name` with `labels` (in the order NMSlite prints them), 0 when absent. */
export function value(s: Scrape, name: string, labels = ""): number {
  return s.get(labels ? `${name}{${labels}}` : name) ?? 0;
}

/** Polls shed between two scrapes: skipped as `busy` or `queue_full`, or for the given reasons. */
export function shedBetween(from: Scrape, to: Scrape, reasons = ["busy", "queue_full"]): number {
  let n = 0;
  for (const reason of reasons) {
    const labels = `reason="${reason}"`;
    n += value(to, "nmslite_polls_skipped_total", labels) -
      value(from, "nmslite_polls_skipped_total", labels);
  }
  return n;
}

/** Cumulative bucket counts of a histogram: [upper bound, count] sorted, +Inf last. */
function buckets(s: Scrape, name: string): [number, number][] {
  const out: [number, number][] = [];
  const prefix = `${name}_bucket{le="`;
  for (const [k, v] of s) {
    if (!k.startsWith(prefix)) continue;
    const le = k.slice(prefix.length, -2);
    out.push([le === "+Inf" ? Infinity : Number(le), v]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/** A histogram's cumulative bucket counts observed between two scrapes: [upper bound, count]. */
function bucketDeltas(from: Scrape, to: Scrape, name: string): [number, number][] {
  const a = new Map(buckets(from, name));
  return buckets(to, name).map(([le, n]) => [le, n - (a.get(le) ?? 0)]);
}

/**
 * What a histogram observed between two scrapes: how many in all, and how many above `bound`
 * (one of its bucket bounds; 0 above it when the bound is not one).
 */
export function observedAbove(
  from: Scrape,
  to: Scrape,
  name: string,
  bound: number,
): { count: number; above: number } {
  const delta = new Map(bucketDeltas(from, to, name));
  const count = delta.get(Infinity) ?? 0;
  return { count, above: delta.has(bound) ? count - delta.get(bound)! : 0 };
}

/**
 * The q-quantile of what a histogram observed between two scrapes, interpolated linearly
 * within its bucket (as Prometheus' histogram_quantile does). Beyond the last finite bound
 * the answer is that bound and `over` is set: the true value is only known to be larger.
 */
export function histogramQuantile(
  from: Scrape,
  to: Scrape,
  name: string,
  q: number,
): { value: number; count: number; over: boolean } {
  const delta = bucketDeltas(from, to, name);
  const count = delta.length ? delta[delta.length - 1][1] : 0;
  if (count === 0) return { value: NaN, count, over: false };
  const rank = q * count;
  let lower = 0;
  let below = 0;
  for (const [le, n] of delta) {
    if (n >= rank) {
      if (le === Infinity) return { value: lower, count, over: true };
      const inBucket = n - below;
      return {
        value: lower + (le - lower) * (inBucket ? (rank - below) / inBucket : 0),
        count,
        over: false,
      };
    }
    lower = le;
    below = n;
  }
  return { value: lower, count, over: true };
}

export const fmt = (n: number, digits = 1) => Number.isFinite(n) ? n.toFixed(digits) : "-";

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
