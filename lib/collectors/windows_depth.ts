/**
 * The extended and full collection profiles of the built-in Windows collector: the queries
 * they add to a poll and how their results become metrics-document fields. Every query of
 * a poll still goes out pipelined on one connection (WinrmClient.enumerateAllSettled).
 *
 *   extended: Processor per core (replaces the _Total query), OperatingSystem with
 *             LastBootUpTime and LocalDateTime (replaces the memory query), PerfOS_System
 *             (queue length, context switches), PerfDisk_PhysicalDisk, its raw counters
 *             (the latency in milliseconds, from two polls), PageFileUsage, Service,
 *             PerfProc_Process (falling back to Win32_Process without counters)
 *   full:     + NTLogEvent, errors and criticals of System and Application since the last
 *             poll, at most max_events of them (the rest is released, not pulled)
 */
import { numProp, strProp, type WmiItem } from "../winrm/mod.ts";
import type { MetricsDocument } from "./metrics_document.ts";

export const DEPTH_WQL = {
  cores: "SELECT Name, PercentProcessorTime FROM Win32_PerfFormattedData_PerfOS_Processor",
  os: "SELECT TotalVisibleMemorySize, FreePhysicalMemory, NumberOfProcesses, LastBootUpTime, " +
    "LocalDateTime FROM Win32_OperatingSystem",
  system:
    "SELECT ProcessorQueueLength, ContextSwitchesPersec FROM Win32_PerfFormattedData_PerfOS_System",
  physicalDisks: "SELECT Name, DiskReadsPersec, DiskWritesPersec, DiskReadBytesPersec, " +
    "DiskWriteBytesPersec, AvgDiskQueueLength, AvgDisksecPerTransfer " +
    "FROM Win32_PerfFormattedData_PerfDisk_PhysicalDisk",
  physicalDisksRaw: "SELECT Name, AvgDisksecPerTransfer, AvgDisksecPerTransfer_Base, " +
    "Frequency_PerfTime FROM Win32_PerfRawData_PerfDisk_PhysicalDisk",
  pageFile: "SELECT Name, AllocatedBaseSize, CurrentUsage FROM Win32_PageFileUsage",
  services: "SELECT Name, DisplayName, State, StartMode FROM Win32_Service",
  processes: "SELECT Name, IDProcess, PercentProcessorTime, WorkingSet, ThreadCount, " +
    "HandleCount FROM Win32_PerfFormattedData_PerfProc_Process",
  processesFallback:
    "SELECT Name, ProcessId, WorkingSetSize, ThreadCount, HandleCount FROM Win32_Process",
} as const;

/** The event log query for entries generated after `since` (epoch ms, host clock). */
export function eventLogWql(since: number): string {
  return "SELECT Logfile, RecordNumber, TimeGenerated, SourceName, EventCode, EventType, Type, " +
    "Message FROM Win32_NTLogEvent WHERE (Logfile = 'System' OR Logfile = 'Application') " +
    `AND EventType <= 1 AND TimeGenerated > '${dmtfDatetime(since)}'`;
}

/** `20261128075500.000000+000`: the CIM datetime a WQL comparison takes (UTC). */
export function dmtfDatetime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-11-28T07:55:00.123Z
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) +
    iso.slice(14, 16) + iso.slice(17, 19) + "." + iso.slice(20, 23) + "000+000";
}

type Doc = MetricsDocument;
type Partial = NonNullable<Doc["partial"]>[number];

/** A query answered with a fault: the part of the document it leaves out, and why. */
export function missingPart(part: string, wql: string, err: Error): Partial {
  const cls = /\bFROM\s+(\w+)/i.exec(wql)?.[1] ?? "?";
  // a WS-Man fault's subcode, else a typed client error's kind (WMI: access_denied, ...)
  const fault = err as { subcode?: string | null; reason?: string; kind?: unknown };
  const what = fault.subcode ?? (typeof fault.kind === "string" ? fault.kind : null);
  return {
    part,
    class: cls,
    reason: (what ? `${what}: ` : "") + (fault.reason ?? err.message).slice(0, 200),
  };
}

export function applyCores(doc: Doc, items: WmiItem[]): void {
  const cores: NonNullable<Doc["cpu_cores"]> = [];
  for (const it of items) {
    const name = strProp(it, "Name") ?? "?";
    const pct = clampPct(numProp(it, "PercentProcessorTime"));
    if (name === "_Total") {
      if (pct !== null) doc.cpu_percent = pct;
    } else if (pct !== null) cores.push({ name, percent: pct });
  }
  cores.sort((a, b) => Number(a.name) - Number(b.name) || a.name.localeCompare(b.name));
  doc.cpu_cores = cores;
}

/** Uptime from LastBootUpTime against the host's own clock (no skew with ours). */
export function applyBoot(doc: Doc, os: WmiItem | undefined): number | null {
  const boot = os ? dateProp(os, "LastBootUpTime") : null;
  const local = os ? dateProp(os, "LocalDateTime") : null;
  if (boot !== null) {
    doc.boot_time = new Date(boot).toISOString();
    if (local !== null) doc.uptime_s = Math.max(0, Math.round((local - boot) / 1000));
  }
  return local;
}

export function applySystem(doc: Doc, items: WmiItem[]): void {
  const s = items[0];
  if (!s) return;
  const q = numProp(s, "ProcessorQueueLength");
  const cs = numProp(s, "ContextSwitchesPersec");
  if (q !== null) doc.processor_queue = Math.max(0, q);
  if (cs !== null) doc.context_switches_ps = Math.max(0, cs);
}

/**
 * A disk's raw latency counters at one poll: PERF_AVERAGE_TIMER ticks and PERF_AVERAGE_BASE
 * transfers, both uint32 and cumulative, and the tick frequency.
 */
export interface DiskLatencyRaw {
  ticks: number;
  transfers: number;
  frequency: number;
}

export type DiskLatencyRaws = Record<string, DiskLatencyRaw>;

export function diskLatencyRaws(items: WmiItem[]): DiskLatencyRaws {
  const out: DiskLatencyRaws = {};
  for (const d of items) {
    const name = strProp(d, "Name");
    const ticks = numProp(d, "AvgDisksecPerTransfer");
    const transfers = numProp(d, "AvgDisksecPerTransfer_Base");
    const frequency = numProp(d, "Frequency_PerfTime");
    if (!name || name === "_Total" || ticks === null || transfers === null || !frequency) continue;
    out[name] = { ticks, transfers, frequency };
  }
  return out;
}

const UINT32 = 2 ** 32;

/**
 * Seconds per transfer between two polls, as perfmon computes PERF_AVERAGE_TIMER:
 * (Δticks / frequency) / Δtransfers, each Δ modulo 2^32 (the counters wrap; ticks every few
 * minutes on a busy disk, so an interval longer than one wrap undercounts). No transfers: 0.
 * A counter that went back by more than half its range (a reboot) gives null.
 */
export function secondsPerTransfer(before: DiskLatencyRaw, now: DiskLatencyRaw): number | null {
  if (before.frequency !== now.frequency) return null;
  const transfers = ((now.transfers - before.transfers) % UINT32 + UINT32) % UINT32;
  const ticks = ((now.ticks - before.ticks) % UINT32 + UINT32) % UINT32;
  if (transfers > UINT32 / 2 || ticks > UINT32 / 2 && now.ticks < before.ticks) return null;
  if (transfers === 0) return 0;
  return ticks / now.frequency / transfers;
}

/**
 * Per physical disk: rates, queue and the average seconds per transfer. The formatted class
 * gives that average in whole seconds (0 for any healthy disk); with the raw counters of this
 * poll and the previous one it is exact (milliseconds), else the formatted value stands.
 */
export function applyPhysicalDisks(
  doc: Doc,
  items: WmiItem[],
  raw?: { before?: DiskLatencyRaws; now: DiskLatencyRaws },
): void {
  doc.physical_disks = items
    .filter((d) => strProp(d, "Name") !== "_Total")
    .map((d) => {
      const name = strProp(d, "Name") ?? "?";
      const before = raw?.before?.[name];
      const now = raw?.now[name];
      const exact = before && now ? secondsPerTransfer(before, now) : null;
      return {
        name,
        reads_ps: nn(numProp(d, "DiskReadsPersec")),
        writes_ps: nn(numProp(d, "DiskWritesPersec")),
        read_bps: nn(numProp(d, "DiskReadBytesPersec")),
        write_bps: nn(numProp(d, "DiskWriteBytesPersec")),
        queue: nn(numProp(d, "AvgDiskQueueLength")),
        sec_per_transfer: exact !== null
          ? Math.round(exact * 1e6) / 1e6
          : nn(numProp(d, "AvgDisksecPerTransfer")),
      };
    });
}

/** Win32_PageFileUsage sizes are MB; summed over page files. */
export function applyPageFile(doc: Doc, items: WmiItem[]): void {
  if (!items.length) return;
  let total = 0;
  let used = 0;
  for (const p of items) {
    total += nn(numProp(p, "AllocatedBaseSize"));
    used += nn(numProp(p, "CurrentUsage"));
  }
  doc.page_file_total = total * 1024 * 1024;
  doc.page_file_used = used * 1024 * 1024;
}

export function applyServices(doc: Doc, items: WmiItem[]): void {
  doc.services = items.map((s) => ({
    name: strProp(s, "Name") ?? "?",
    display_name: strProp(s, "DisplayName") ?? "",
    state: strProp(s, "State") ?? "Unknown",
    start_mode: strProp(s, "StartMode") ?? "Unknown",
  })).sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The top `n` by CPU and the top `n` by working set (one list, each process once). The
 * formatted PercentProcessorTime is per logical processor summed (up to cores x 100), so it
 * is divided by the core count to read like Task Manager.
 */
export function applyProcesses(
  doc: Doc,
  items: WmiItem[],
  n: number,
  cores: number,
  fromCounters: boolean,
): void {
  const all = items
    .filter((p) => {
      const name = strProp(p, "Name");
      return name !== "_Total" && name !== "Idle" && name !== "System Idle Process";
    })
    .map((p) => {
      const cpu = fromCounters ? numProp(p, "PercentProcessorTime") : null;
      return {
        name: strProp(p, "Name") ?? "?",
        pid: nn(numProp(p, fromCounters ? "IDProcess" : "ProcessId")),
        cpu_percent: cpu === null ? null : round(Math.min(100, cpu / Math.max(1, cores))),
        memory: nn(numProp(p, fromCounters ? "WorkingSet" : "WorkingSetSize")),
        threads: nn(numProp(p, "ThreadCount")),
        handles: nn(numProp(p, "HandleCount")),
      };
    });
  const byCpu = fromCounters
    ? [...all].sort((a, b) => (b.cpu_percent ?? 0) - (a.cpu_percent ?? 0)).slice(0, n)
    : [];
  const byMem = [...all].sort((a, b) => b.memory - a.memory).slice(0, n);
  doc.process_names = [...new Set(all.map((p) => p.name.replace(/#\d+$/, "")))].sort();
  const seen = new Set<number>();
  doc.processes = [];
  for (const p of [...byCpu, ...byMem]) {
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    doc.processes.push(p);
  }
}

const LEVEL: Record<string, "critical" | "error"> = { critical: "critical", error: "error" };

/** Event log text per poll, so a poll's result stays well inside one queue message. */
export const EVENTS_BUDGET_BYTES = 24_000;

export function applyEvents(doc: Doc, items: WmiItem[], truncated: boolean): void {
  let budget = EVENTS_BUDGET_BYTES;
  const kept = items.filter((e) => {
    budget -= 160 + Math.min(512, (strProp(e, "Message") ?? "").length);
    return budget >= 0;
  });
  if (kept.length < items.length) truncated = true;
  doc.events = kept.map((e) => {
    const at = dateProp(e, "TimeGenerated");
    return {
      log: strProp(e, "Logfile") ?? "?",
      record: nn(numProp(e, "RecordNumber")),
      ts: new Date(at ?? Date.now()).toISOString(),
      source: strProp(e, "SourceName") ?? "?",
      event_id: nn(numProp(e, "EventCode")),
      // Win32_NTLogEvent reports a critical entry with EventType 1; Type tells them apart.
      level: LEVEL[(strProp(e, "Type") ?? "").toLowerCase()] ?? "error",
      message: (strProp(e, "Message") ?? "").slice(0, 512),
    };
  });
  if (truncated) doc.events_truncated = true;
}

function dateProp(item: WmiItem, name: string): number | null {
  const v = item[name] ??
    item[Object.keys(item).find((k) => k.toLowerCase() === name.toLowerCase()) ?? ""];
  if (v instanceof Date) return v.getTime();
  if (typeof v === "string") {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

const nn = (v: number | null) => v === null || v < 0 ? 0 : v;
const clampPct = (v: number | null) => v === null ? null : Math.min(100, Math.max(0, v));
const round = (v: number) => Math.round(v * 100) / 100;
