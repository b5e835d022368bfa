/**
 * The process's open-files limit and how NMSlite shares it out.
 *
 * At start the soft RLIMIT_NOFILE is raised to the hard limit where the system lets us (as
 * Go's runtime does for every program and nginx's worker_rlimit_nofile does on request): the
 * soft limit of most services is still 1,024, far below what a fleet of kept-alive WinRM
 * connections needs, while the hard limit is usually much higher. Deno has no setrlimit, so
 * it goes through FFI to the C library; where FFI or the library is unavailable (another OS,
 * no --allow-ffi) it fails soft: the limit stays as it is and is read from /proc if possible.
 *
 * Then the descriptors are a budget (planFdBudget): what is open already, a reserve for the
 * API's connections, the database pool and the results queue, some slack for the rest (exec
 * plugins' pipes, log files, DNS), and what is left for WinRM connections, divided among the
 * poller Workers and the main isolate (discovery and the health monitor's probes).
 */
import { getLogger } from "@logtape/logtape";
import type { Config } from "../config.ts";
import { openLibc } from "./libc.ts";

export interface OpenFilesLimit {
  soft: number;
  hard: number;
  /** the soft limit before it was raised (equal to soft when nothing changed) */
  before: number;
  /** why the limit could not be read or raised, when it could not */
  problem?: string;
}

/** RLIMIT_NOFILE on Linux (x86_64 and aarch64 alike; other architectures differ). */
const RLIMIT_NOFILE = 7;
/** RLIM_INFINITY (unsigned all-ones) */
const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
/** What "unlimited" counts as when sharing out (the kernel caps it by fs.nr_open anyway). */
const UNLIMITED = 1_048_576;

let known: OpenFilesLimit | undefined;

/**
 * Raises the soft open-files limit to the hard limit (once per process; later calls return
 * the first result). Never throws.
 */
export function raiseOpenFilesLimit(): OpenFilesLimit {
  if (known) return known;
  const viaFfi = tryFfi();
  if (viaFfi) return known = viaFfi;
  const read = limitsFromProc();
  return known = read
    ? { ...read, before: read.soft, problem: "cannot raise the limit here (no FFI to libc)" }
    : { soft: 1024, hard: 1024, before: 1024, problem: "the open-files limit is unknown" };
}

/** The current limit: what raiseOpenFilesLimit() left, else read now (without raising). */
export function openFilesLimit(): OpenFilesLimit {
  if (known) return known;
  const read = limitsFromProc();
  return read
    ? { ...read, before: read.soft }
    : { soft: 1024, hard: 1024, before: 1024, problem: "the open-files limit is unknown" };
}

function tryFfi(): OpenFilesLimit | undefined {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    return undefined;
  }
  const lib = openLibc();
  if (typeof lib === "string") return undefined; // no --allow-ffi, or no glibc
  try {
    // struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; } with 64-bit rlim_t
    const buf = new BigUint64Array(2);
    if (lib.getrlimit(RLIMIT_NOFILE, buf) !== 0) return undefined;
    const before = count(buf[0]);
    const hard = count(buf[1]);
    if (buf[0] === buf[1]) return { soft: before, hard, before };
    const want = new BigUint64Array([buf[1], buf[1]]);
    let problem: string | undefined;
    if (lib.setrlimit(RLIMIT_NOFILE, want) !== 0) {
      // e.g. an unlimited hard limit above fs.nr_open: try the kernel's own ceiling
      const nrOpen = readNrOpen();
      want[0] = BigInt(Math.min(nrOpen ?? before, hard));
      if (nrOpen === undefined || lib.setrlimit(RLIMIT_NOFILE, want) !== 0) {
        problem = "setrlimit refused to raise the soft limit";
      }
    }
    lib.getrlimit(RLIMIT_NOFILE, buf);
    return { soft: count(buf[0]), hard: count(buf[1]), before, ...(problem ? { problem } : {}) };
  } catch {
    return undefined;
  }
}

function count(v: bigint): number {
  return v === RLIM_INFINITY || v > BigInt(UNLIMITED) ? UNLIMITED : Number(v);
}

function readNrOpen(): number | undefined {
  try {
    const n = Number(Deno.readTextFileSync("/proc/sys/fs/nr_open").trim());
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function limitsFromProc(): { soft: number; hard: number } | undefined {
  try {
    const m = Deno.readTextFileSync("/proc/self/limits").match(
      /Max open files\s+(\S+)\s+(\S+)/,
    );
    if (!m) return undefined;
    const n = (v: string) => v === "unlimited" ? UNLIMITED : Math.min(Number(v), UNLIMITED);
    return { soft: n(m[1]), hard: n(m[2]) };
  } catch {
    return undefined;
  }
}

/** Descriptors this process has open now (Linux /proc), or undefined where unknown. */
export function openDescriptors(): number | undefined {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n - 1; // the directory handle being read
  } catch {
    return undefined;
  }
}

export interface FdBudgetInput {
  /** the soft open-files limit */
  limit: number;
  /** descriptors open now (the runtime, the embedded database, log files) */
  inUse: number;
  /** the API listener's cap on connections (server.max_connections) */
  apiConnections?: number;
  /** database connections NMSlite may open later (postgres pool; 0 for the embedded one) */
  databaseConnections: number;
  pollers: number;
}

export interface FdBudget {
  limit: number;
  inUse: number;
  /** reserved for the API's connections */
  api: number;
  database: number;
  /** the results queue (Deno KV files) and each Worker's own event loop */
  queueAndWorkers: number;
  /** exec plugins' pipes, log files, DNS, fping… */
  slack: number;
  /** WinRM connections in all */
  winrm: number;
  /** of which the main isolate's share (discovery, health probes) */
  main: number;
  /** and each poller Worker's */
  perPoller: number;
}

/** Each poller Worker keeps at least this many connections, whatever the limit. */
const MIN_PER_POLLER = 4;
const MIN_MAIN = 4;

/**
 * Shares out the open-files limit. The API's reserve is server.max_connections (the
 * listener's own cap) up to a quarter of the limit, else 1/16 of the limit within [16, 256]:
 * the listener survives running out (lib/web/serve.ts backs off and accepts again) and so do
 * WinRM connects (pool.ts retries), so the API is not given half of a 1,024 limit for
 * connections it rarely holds; each Worker costs about 8
 * descriptors (its event loop, the queue's database files); the slack is 5 % (at least 16).
 * The main isolate gets 1/8 of the WinRM share (at least 4, at most 256), the poller Workers
 * split the rest evenly (at least 4 each, even when the limit is too low for that: a warning
 * says so).
 */
export function planFdBudget(input: FdBudgetInput): FdBudget {
  const limit = Math.max(0, Math.floor(input.limit));
  const api = Math.max(
    1,
    input.apiConnections
      ? Math.min(Math.floor(input.apiConnections), Math.floor(limit / 4))
      : clamp(limit / 16, 16, 256),
  );
  const database = Math.max(0, Math.floor(input.databaseConnections));
  const queueAndWorkers = 8 * (input.pollers + 2); // pollers, scheduler, main isolate
  const slack = Math.max(16, Math.floor(limit * 0.05));
  const winrm = Math.max(0, limit - input.inUse - api - database - queueAndWorkers - slack);
  const main = clamp(Math.floor(winrm / 8), MIN_MAIN, 256);
  const perPoller = Math.max(MIN_PER_POLLER, Math.floor((winrm - main) / input.pollers));
  return {
    limit,
    inUse: input.inUse,
    api,
    database,
    queueAndWorkers,
    slack,
    winrm,
    main,
    perPoller,
  };
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(n)));
}

/** Raises the limit (raiseOpenFilesLimit) and logs both limits; for main.ts at start. */
export function raiseAndLogOpenFilesLimit(): OpenFilesLimit {
  const l = raiseOpenFilesLimit();
  const log = getLogger(["nmslite", "fd"]);
  const props = { soft: l.soft, hard: l.hard, before: l.before };
  if (l.problem) {
    log.warning("open files: soft limit {soft}, hard limit {hard} ({problem})", {
      ...props,
      problem: l.problem,
    });
  } else if (l.before !== l.soft) {
    log.info("open files: soft limit raised from {before} to {soft} (hard limit {hard})", props);
  } else {
    log.info("open files: soft limit {soft}, hard limit {hard}", props);
  }
  return l;
}

/**
 * The budget for this configuration, from the limit and what is open now; logged, with a
 * warning when the limit is too low for the reserves. `database` is the database's kind.
 */
export function fdBudgetFor(
  config: Pick<Config, "server" | "database" | "polling">,
  database: "pglite" | "postgres",
): FdBudget {
  const limit = openFilesLimit();
  const apiCap = config.server.max_connections;
  return logged(
    planFdBudget({
      limit: limit.soft,
      inUse: openDescriptors() ?? 64,
      apiConnections: typeof apiCap === "number" && apiCap > 0 ? apiCap : undefined,
      databaseConnections: database === "postgres" ? config.database.max_connections : 0,
      pollers: config.polling.pollers,
    }),
    config.polling.pollers,
    "descriptors: limit {limit}, open {inUse}, reserved API {api} (of its cap {apiCap}), " +
      "database {database}, queue and Workers {queueAndWorkers}, slack {slack}; WinRM {winrm}: " +
      "{perPoller} per poller Worker ({pollers}), {main} for discovery",
    { apiCap },
  );
}

/** The listener of a poller node: /health and /metrics, for a scraper and an operator. */
const NODE_LISTENER = 16;
/**
 * A poller node's links to the central: the assignment stream, the shipper's and the
 * heartbeat's requests, discovery reports (fetch keeps a few alive), with room to reconnect.
 */
const NODE_CENTRAL_LINKS = 16;

/**
 * A poller node's budget (poller.ts): as the all-in-one's, with the node's small listener in
 * the API's place and its links to the central in the database's; the main isolate's share
 * serves the node's discovery runs and probes. Logged like fdBudgetFor.
 */
export function fdBudgetForNode(pollers: number): FdBudget {
  return logged(
    planFdBudget({
      limit: openFilesLimit().soft,
      inUse: openDescriptors() ?? 64,
      apiConnections: NODE_LISTENER,
      databaseConnections: NODE_CENTRAL_LINKS,
      pollers,
    }),
    pollers,
    "descriptors: limit {limit}, open {inUse}, reserved listener {api}, central links " +
      "{database}, queue and Workers {queueAndWorkers}, slack {slack}; WinRM {winrm}: " +
      "{perPoller} per poller Worker ({pollers}), {main} for discovery",
  );
}

function logged(
  plan: FdBudget,
  pollers: number,
  text: string,
  extra: Record<string, unknown> = {},
): FdBudget {
  const log = getLogger(["nmslite", "fd"]);
  const props = { ...plan, pollers, ...extra };
  if (plan.winrm < plan.main + pollers * plan.perPoller) {
    log.warning(text + " (the limit is too low for the reserves: raise it)", props);
  } else {
    log.info(text, props);
  }
  return plan;
}
