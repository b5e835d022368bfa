/**
 * Rule metrics on what the extended and full collection profiles collect, with their
 * parameters: an automatic service not running (include / exclude lists of names, `*`
 * wildcards), a named process not running or above a CPU share, a reboot, and the count of
 * event log entries per poll (optionally of one source, event id or log).
 */
import type { MetricSample } from "../messages.ts";
import type { InstanceValue, MetricDefinition } from "./metric_types.ts";

export interface RuleParams {
  /** service_not_running: only these services (names or display names, `*` wildcards) */
  include?: string[];
  /** service_not_running: never these */
  exclude?: string[];
  /** process_*: the process name (without .exe; `*` wildcards); absent: every process */
  process?: string;
  /** event_log_count: only entries of this source / event id / log */
  source?: string;
  event_id?: number;
  log?: string;
}

export const DEPTH_METRICS: readonly MetricDefinition[] = [
  m("service_not_running", "Automatic service not running", "", "state", "service"),
  m("process_not_running", "Named process not running", "", "state", "device"),
  m("process_cpu_percent", "Process CPU % (of the machine)", "%", "percent", "process"),
  m("reboot_detected", "Reboot detected (LastBootUpTime moved)", "", "state", "device"),
  m("event_log_count", "Event log errors in a poll", "entries", "count", "device"),
];

function m(
  name: string,
  label: string,
  unit: string,
  kind: MetricDefinition["kind"],
  per: MetricDefinition["per"],
): MetricDefinition {
  return { name, label, unit, kind, source: "sample", per };
}

/** Why `params` do not fit `metric` ({field, message}), or null. */
export function ruleParamsProblem(
  metric: string,
  params: RuleParams,
): { field: string; message: string } | null {
  const known: Record<string, (keyof RuleParams)[]> = {
    service_not_running: ["include", "exclude"],
    process_not_running: ["process"],
    process_cpu_percent: ["process"],
    event_log_count: ["source", "event_id", "log"],
  };
  const allowed = known[metric] ?? [];
  for (const k of Object.keys(params)) {
    if (!allowed.includes(k as keyof RuleParams)) {
      return { field: k, message: `not a parameter of ${metric}` };
    }
  }
  for (const k of ["include", "exclude"] as const) {
    const v = params[k];
    if (v !== undefined && !(Array.isArray(v) && v.length <= 500 && v.every(isName))) {
      return { field: k, message: "a list of service names (1-256 characters each)" };
    }
  }
  for (const k of ["process", "source", "log"] as const) {
    if (params[k] !== undefined && !isName(params[k])) {
      return { field: k, message: "a name of 1-256 characters" };
    }
  }
  if (metric === "process_not_running" && !params.process) {
    return { field: "process", message: "the process to watch is required" };
  }
  const id = params.event_id;
  if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id <= 65_535)) {
    return { field: "event_id", message: "an event id 0-65535" };
  }
  return null;
}

const isName = (v: unknown) => typeof v === "string" && v.length >= 1 && v.length <= 256;

/** `*` wildcards, case-insensitive, as Windows names compare. */
function matcher(patterns: string[] | undefined): ((name: string) => boolean) | null {
  if (!patterns?.length) return null;
  const res = patterns.map((p) =>
    new RegExp(
      "^" + p.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") + "$",
      "i",
    )
  );
  return (name) => res.some((r) => r.test(name));
}

const procName = (n: string) => n.replace(/#\d+$/, "").replace(/\.exe$/i, "");

/**
 * What rates and reboot detection need of a monitor's previous sample: the evaluator keeps
 * this much per monitor, not the whole sample (volumes, processes and the rest would stay
 * alive for a whole interval, be promoted and die old: work for every full collection).
 */
export type PreviousSample = Pick<MetricSample, "ts" | "interfaces" | "bootTime">;

/** Values of a depth metric; false when `metric` is not one of them. */
export function extractDepth(
  metric: string,
  s: MetricSample,
  previous: PreviousSample | undefined,
  out: InstanceValue[],
  params: RuleParams,
): boolean {
  switch (metric) {
    case "service_not_running": {
      if (!s.services) return true; // unchanged since the last list: nothing new to judge
      const include = matcher(params.include);
      const exclude = matcher(params.exclude);
      for (const svc of s.services) {
        if (svc.startMode.toLowerCase() !== "auto") continue;
        const names = [svc.name, svc.displayName];
        if (include && !names.some(include)) continue;
        if (exclude && names.some(exclude)) continue;
        out.push({ instance: svc.name, value: svc.state === "Running" ? 0 : 1 });
      }
      return true;
    }
    case "process_not_running": {
      if (!s.processNames || !params.process) return true;
      const match = matcher([params.process])!;
      const running = s.processNames.some((n) => match(procName(n)));
      out.push({ instance: params.process, value: running ? 0 : 1 });
      return true;
    }
    case "process_cpu_percent": {
      if (!s.processes) return true;
      const match = params.process ? matcher([params.process])! : () => true;
      const byName = new Map<string, number>();
      for (const p of s.processes) {
        const name = procName(p.name);
        if (p.cpuPercent === null || !match(name)) continue;
        byName.set(name, (byName.get(name) ?? 0) + p.cpuPercent);
      }
      // Out of the top list means a small share: 0, so an open problem can resolve.
      for (const n of s.processNames ?? []) {
        const name = procName(n);
        if (match(name) && !byName.has(name)) byName.set(name, 0);
      }
      for (const [instance, value] of byName) out.push({ instance, value });
      return true;
    }
    case "reboot_detected": {
      if (s.bootTime === undefined) return true;
      const before = previous?.bootTime;
      const moved = before !== undefined && s.bootTime - before > 60_000;
      out.push({ instance: "", value: moved ? 1 : 0 });
      return true;
    }
    case "event_log_count": {
      if (!s.events) return true;
      let n = 0;
      for (const e of s.events) {
        if (params.source && e.source.toLowerCase() !== params.source.toLowerCase()) continue;
        if (params.event_id !== undefined && e.eventId !== params.event_id) continue;
        if (params.log && e.log.toLowerCase() !== params.log.toLowerCase()) continue;
        n++;
      }
      out.push({ instance: params.source ?? "", value: n });
      return true;
    }
  }
  return false;
}
