/**
 * What a user sees of NMSlite during a fleet run: the API asked as a new client would ask
 * (a new TCP connection per request, so the listener must still accept), and the server
 * process's descriptors against its limit. Failures are counted, never thrown.
 */

export interface ApiProbe {
  ok: number;
  failed: number;
  /** the first few failures, as "GET /health: fetch failed" */
  errors: string[];
  /** latencies of answered requests, ms */
  latenciesMs: number[];
}

export function newApiProbe(): ApiProbe {
  return { ok: 0, failed: 0, errors: [], latenciesMs: [] };
}

/**
 * A client that keeps no connection: each request connects anew (and over HTTPS shakes hands
 * anew), as a browser tab or curl would. `caCert`: the server's certificate, for HTTPS.
 */
export function freshClient(caCert?: string): Deno.HttpClient {
  return Deno.createHttpClient({ poolMaxIdlePerHost: 0, ...(caCert ? { caCerts: [caCert] } : {}) });
}

/**
 * GET `url` with `client` (freshClient), with `token` when given; counts it into `probe`; true
 * when it answered 200.
 */
export async function probeApi(
  probe: ApiProbe,
  client: Deno.HttpClient,
  what: string,
  url: string,
  token?: string,
): Promise<boolean> {
  const started = performance.now();
  try {
    const res = await fetch(url, {
      client,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    probe.ok++;
    probe.latenciesMs.push(performance.now() - started);
    return true;
  } catch (err) {
    probe.failed++;
    if (probe.errors.length < 5) probe.errors.push(`${what}: ${(err as Error).message}`);
    return false;
  }
}

/** Open descriptors of a process, or NaN once it is gone. */
export function openFds(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return NaN;
  }
}

/** "soft/hard" open-files limit of a process, or "?" once it is gone. */
export function nofileOf(pid: number): string {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/limits`).match(/Max open files\s+(\S+)\s+(\S+)/);
    return m ? `${m[1]}/${m[2]}` : "?";
  } catch {
    return "?";
  }
}

/** Whether the process still runs. */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
