/**
 * HTTP load for a fixed duration, in one of two shapes:
 * - closed loop (`concurrency`): N workers each send a request, wait for the whole answer and
 *   send the next; throughput is what the server manages, latency ≈ N / throughput;
 * - open loop (`rate`): requests are started at a fixed rate whatever the answers do (at most
 *   `maxInFlight` outstanding), which shows the latency at a given request rate.
 * Latency is measured per request in the client, so it includes the loopback round trip.
 */

export interface LoadResult {
  requests: number;
  errors: number;
  /** open loop: requests not sent because maxInFlight were outstanding */
  skipped: number;
  /** first non-2xx status or exception seen, for the report */
  firstError?: string;
  seconds: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  /** CPU time of the server process over the run, as a share of one core (1 = 100 %). */
  serverCpu?: number;
  /** the same for this (the load-generating) process */
  clientCpu?: number;
}

export interface LoadOptions {
  concurrency?: number;
  /** requests per second (open loop); wins over concurrency */
  rate?: number;
  maxInFlight?: number;
  durationMs: number;
  /** Builds the URL of request number `i` (so pages can vary). */
  url: (i: number) => string;
  headers: Record<string, string>;
  /** the HTTP client (its connection pool, CA certificates); default: fetch's own */
  client?: Deno.HttpClient;
  /** pid of the server process, to report its CPU use */
  serverPid?: number;
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = performance.now();
  const deadline = started + opts.durationMs;
  const cpuBefore = [cpuTicks(opts.serverPid), cpuTicks()];
  const one = async (i: number) => {
    const t0 = performance.now();
    try {
      const res = await fetch(opts.url(i), { headers: opts.headers, client: opts.client });
      // The body is read in full (as a browser would) but not parsed: parsing would load the
      // client, which shares the machine with the server.
      await res.arrayBuffer();
      if (res.status !== 200) {
        errors++;
        firstError ??= `HTTP ${res.status}`;
      }
    } catch (err) {
      errors++;
      firstError ??= String(err);
    }
    latencies.push(performance.now() - t0);
  };
  let skipped = 0;
  if (opts.rate) {
    const max = opts.maxInFlight ?? 256;
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    while (performance.now() < deadline) {
      const due = Math.floor((performance.now() - started) / 1000 * opts.rate);
      for (; sent < due; sent++) {
        if (inFlight.size >= max) {
          skipped++;
          continue;
        }
        const p = one(next++).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inFlight);
  } else {
    const worker = async () => {
      while (performance.now() < deadline) await one(next++);
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 1 }, worker));
  }
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = [cpuTicks(opts.serverPid), cpuTicks()];
  const share = (k: number) =>
    cpuBefore[k] !== undefined && cpuAfter[k] !== undefined
      ? (cpuAfter[k]! - cpuBefore[k]!) / TICKS_PER_SECOND / seconds
      : undefined;
  latencies.sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies.length
      ? latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]
      : 0;
  return {
    requests: latencies.length,
    errors,
    skipped,
    firstError,
    seconds,
    rps: latencies.length / seconds,
    p50: pct(0.5),
    p95: pct(0.95),
    p99: pct(0.99),
    max: latencies[latencies.length - 1] ?? 0,
    serverCpu: share(0),
    clientCpu: share(1),
  };
}

// USER_HZ on Linux: /proc/<pid>/stat counts CPU time in 1/100 s.
const TICKS_PER_SECOND = 100;

/** utime + stime of a process from /proc (Linux only; undefined elsewhere). */
function cpuTicks(pid?: number): number | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid ?? "self"}/stat`);
    // Fields after the command name "(…)", which may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}
