/**
 * Processes for the fleet benchmark: the simulator in its own process, a scratch PostgreSQL
 * database, and CPU time / peak memory of a process read from /proc.
 */
import {
  createScratchDatabase as createTestScratchDatabase,
  type ScratchDatabase,
} from "../tests/helpers/databases.ts";
import { terminate } from "../scripts/child_server.ts";

// The repository root, where winsim lives.
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);
// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel.
const CLOCK_TICKS = 100;

/** User + system CPU seconds of a process (all its threads, so Workers included). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name may contain spaces; the fields after its closing parenthesis do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** The system (kernel) part of cpuSeconds: sockets, wake-ups, page faults. */
export function systemSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[12]) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** Peak resident memory (VmHWM) in MiB, or NaN once the process is gone. */
export function peakRssMB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+) kB/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface Simulator {
  pid: number;
  hosts: string[];
  control: string;
  logPath: string;
  stop(): Promise<void>;
}

/**
 * Starts winsim/main.ts as a child process (HTTP only) and waits for its ready line.
 * The password goes through an environment variable, so it is on no command line.
 */
export async function startSimulator(
  opts: { hosts: number; base: string; password: string; logDir: string; wmi?: boolean },
): Promise<Simulator> {
  const logPath = `${opts.logDir}/winsim.log`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "winsim/main.ts",
      "--hosts",
      String(opts.hosts),
      "--base",
      opts.base,
      "--no-https",
      "--password-env",
      "FLEET_SIM_PASSWORD",
      "--control-port",
      "0",
      // WMI over DCOM only when the bench polls it: two listeners a host fewer otherwise
      ...(opts.wmi ? [] : ["--no-wmi"]),
    ],
    cwd: ROOT,
    env: { FLEET_SIM_PASSWORD: opts.password },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const log = await Deno.open(logPath, { write: true, create: true, append: true });
  const drainErr = (async () => {
    for await (const chunk of child.stderr) await log.write(chunk).catch(() => 0);
  })().catch(() => {});

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      if (!exited) await terminate(child, status);
      await drainErr;
      log.close();
    })();

  // The ready line is the first stdout line; the rest of stdout is drained into the log.
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const timeout = setTimeout(() => void stop(), 300_000);
  try {
    while (!buffered.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`simulator exited before it was ready (see ${logPath})`);
      buffered += value;
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timeout);
  }
  (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
  })().catch(() => {});
  const ready = JSON.parse(buffered.slice(0, buffered.indexOf("\n")));
  return { pid: child.pid, hosts: ready.hosts, control: ready.control, logPath, stop };
}

/** A fresh database on the server at `adminUrl`, dropped by `drop()` (as the tests do). */
export function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  return createTestScratchDatabase("nmslite_fleet", adminUrl);
}

/**
 * CPU seconds per thread name of a process ("deno" is the main isolate, "worker-N" the Web
 * Workers, "V8 DefaultWorker" garbage collection and compilation), to tell which part burns it.
 */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  try {
    for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/stat`);
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // The main thread's id is the process id; name it apart from threads also called deno.
      const name = t.name === String(pid) ? "main" : comm.replace(/ .*/, "");
      out[name] = (out[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    }
  } catch { /* gone */ }
  return out;
}

/** 1, 5 and 15 minute load averages: other work on the machine skews every figure here. */
export function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "unknown";
  }
}

/**
 * Simulated hosts one process can serve: each holds a listening socket and usually one
 * keep-alive connection from NMSlite, so two descriptors per host against the soft limit.
 */
export function hostsPerSimulator(): number {
  try {
    const m = Deno.readTextFileSync("/proc/self/limits").match(/Max open files\s+(\d+)/);
    return m ? Math.max(100, Math.floor((Number(m[1]) - 1000) / 2.5)) : 5000;
  } catch {
    return 5000;
  }
}

/** Backend processes serving database `name` (their title names it), for their CPU time. */
export function postgresBackends(name: string): number[] {
  const pids: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${e.name}/cmdline`);
      if (cmd.startsWith("postgres: ") && cmd.includes(` ${name} `)) pids.push(Number(e.name));
    } catch { /* gone */ }
  }
  return pids;
}

/** Busy and total CPU seconds of the whole machine, every process of every user included. */
export function machineCpu(): { busy: number; total: number } {
  const f = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  const total = f.reduce((a, b) => a + b, 0) / CLOCK_TICKS;
  // idle and iowait are the fields not spent working
  return { busy: total - (f[3] + f[4]) / CLOCK_TICKS, total };
}
