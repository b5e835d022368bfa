/**
 * What a rule can watch: the metrics the collector stores (lib/metrics/writer.ts columns and
 * the per-volume / per-interface documents) and the states the pipeline knows. Each entry says
 * what kind of number its threshold is, so a rule with a threshold of the wrong kind is refused.
 */
import type { MetricSample } from "../messages.ts";
import {
  DEPTH_METRICS,
  extractDepth,
  type PreviousSample,
  type RuleParams,
} from "./depth_metrics.ts";
import type {
  InstanceValue,
  MetricDefinition,
  MetricSource,
  ThresholdKind,
} from "./metric_types.ts";

export type {
  InstanceValue,
  MetricDefinition,
  MetricSource,
  ThresholdKind,
} from "./metric_types.ts";

export const METRICS: readonly MetricDefinition[] = [
  def("cpu_percent", "CPU %", "%", "percent", "sample", "device"),
  def("memory_percent", "Memory used %", "%", "percent", "sample", "device"),
  def("volume_used_percent", "Volume used %", "%", "percent", "sample", "volume"),
  def("volume_free_percent", "Volume free %", "%", "percent", "sample", "volume"),
  def("volume_free_bytes", "Volume free bytes", "B", "bytes", "sample", "volume"),
  def("interface_utilization", "Interface utilisation %", "%", "percent", "sample", "interface"),
  def("interface_errors_per_s", "Interface errors per second", "/s", "rate", "sample", "interface"),
  def(
    "interface_discards_per_s",
    "Interface discards per second",
    "/s",
    "rate",
    "sample",
    "interface",
  ),
  def("process_count", "Process count", "", "count", "sample", "device"),
  def("poll_duration_ms", "Poll duration", "ms", "ms", "sample", "device"),
  def("device_unreachable", "Device unreachable", "", "state", "state", "device"),
  def("monitor_failing", "Monitor failing N polls in a row", "polls", "count", "outcome", "device"),
  def("no_data", "No data for N polling intervals", "intervals", "intervals", "timer", "device"),
  // extended and full collection profiles (depth_metrics.ts)
  ...DEPTH_METRICS,
];

export const METRIC_NAMES = METRICS.map((m) => m.name);
const BY_NAME = new Map(METRICS.map((m) => [m.name, m]));

export function metricDefinition(name: string): MetricDefinition | undefined {
  return BY_NAME.get(name);
}

/** Why a threshold does not fit the metric's kind, or null when it does. */
export function thresholdProblem(kind: ThresholdKind, value: number): string | null {
  if (!Number.isFinite(value)) return "must be a finite number";
  switch (kind) {
    case "percent":
      return value < 0 || value > 100 ? "is a percentage: between 0 and 100" : null;
    case "bytes":
    case "count":
      return value < 0 || !Number.isInteger(value) ? "must be a whole number ≥ 0" : null;
    case "intervals":
      return value < 1 || !Number.isInteger(value)
        ? "must be a whole number of intervals ≥ 1"
        : null;
    case "rate":
    case "ms":
      return value < 0 ? "must be ≥ 0" : null;
    case "state":
      return value !== 1 ? "a state rule's threshold is 1 (the state holds)" : null;
  }
}

/**
 * Per-interface counters whose rate needs the previous sample: the evaluator keeps
 * `previous` per (monitor) and hands it in.
 */
export function extract(
  metric: string,
  s: MetricSample,
  previous: PreviousSample | undefined,
  out: InstanceValue[],
  params: RuleParams = {},
): void {
  if (extractDepth(metric, s, previous, out, params)) return;
  switch (metric) {
    case "cpu_percent":
      if (s.cpuPercent != null) out.push({ instance: "", value: s.cpuPercent });
      return;
    case "memory_percent":
      if (s.memoryUsed != null && s.memoryTotal) {
        out.push({ instance: "", value: (s.memoryUsed / s.memoryTotal) * 100 });
      }
      return;
    case "process_count":
      if (s.processCount != null) out.push({ instance: "", value: s.processCount });
      return;
    case "poll_duration_ms":
      if (s.collectionMs != null) out.push({ instance: "", value: s.collectionMs });
      return;
    case "volume_used_percent":
    case "volume_free_percent":
    case "volume_free_bytes":
      for (const v of s.volumes ?? []) {
        if (!(v.total > 0)) continue;
        const used = (v.used / v.total) * 100;
        const value = metric === "volume_used_percent"
          ? used
          : metric === "volume_free_percent"
          ? 100 - used
          : v.total - v.used;
        out.push({ instance: v.name, value });
      }
      return;
    case "interface_utilization":
      for (const i of s.interfaces ?? []) {
        if (i.utilization != null) out.push({ instance: i.name, value: i.utilization });
      }
      return;
    case "interface_errors_per_s":
    case "interface_discards_per_s": {
      if (!previous?.interfaces || previous.ts >= s.ts) return;
      const seconds = (s.ts - previous.ts) / 1000;
      for (const i of s.interfaces ?? []) {
        const p = previous.interfaces.find((x) => x.name === i.name);
        if (!p) continue;
        const delta = metric === "interface_errors_per_s"
          ? i.errors - p.errors
          : i.discards - p.discards;
        if (delta >= 0) out.push({ instance: i.name, value: delta / seconds });
      }
      return;
    }
  }
}

export function def(
  name: string,
  label: string,
  unit: string,
  kind: ThresholdKind,
  source: MetricSource,
  per: MetricDefinition["per"],
): MetricDefinition {
  return { name, label, unit, kind, source, per };
}
