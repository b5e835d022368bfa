/**
 * The metrics-document fields of the extended and full collection profiles (an exec plugin
 * may print them too), and how they map onto a MetricSample. All optional: a standard poll
 * has none of them.
 */
import { z } from "zod";
import type { MetricSample } from "../messages.ts";

const count = z.number().finite().nonnegative().nullable().optional();
const nonneg = z.number().finite().nonnegative();

export const DepthDocumentShape = {
  uptime_s: count,
  boot_time: z.iso.datetime().nullable().optional(),
  page_file_total: count,
  page_file_used: count,
  processor_queue: count,
  context_switches_ps: count,
  cpu_cores: z.array(z.object({
    name: z.string().max(64),
    percent: z.number().finite().min(0).max(100),
  })).max(1024).nullable().optional(),
  physical_disks: z.array(z.object({
    name: z.string().max(256),
    reads_ps: nonneg,
    writes_ps: nonneg,
    read_bps: nonneg,
    write_bps: nonneg,
    queue: nonneg,
    sec_per_transfer: nonneg,
  })).max(256).nullable().optional(),
  services: z.array(z.object({
    name: z.string().max(256),
    display_name: z.string().max(512),
    state: z.string().max(32),
    start_mode: z.string().max(32),
  })).max(2000).nullable().optional(),
  processes: z.array(z.object({
    name: z.string().max(256),
    pid: nonneg,
    cpu_percent: z.number().finite().min(0).max(100).nullable(),
    memory: nonneg,
    threads: nonneg,
    handles: nonneg,
  })).max(200).nullable().optional(),
  /** every running process's name, for process rules (not stored) */
  process_names: z.array(z.string().max(256)).max(5000).nullable().optional(),
  events: z.array(z.object({
    log: z.string().max(64),
    record: nonneg,
    ts: z.iso.datetime(),
    source: z.string().max(256),
    event_id: nonneg,
    level: z.enum(["critical", "error"]),
    message: z.string().max(4096),
  })).max(1000).nullable().optional(),
  /** more entries matched than the poll read (max_events) */
  events_truncated: z.boolean().optional(),
  /** parts the host could not give (a missing class, access denied); the rest is stored */
  partial: z.array(z.object({
    part: z.string().max(64),
    class: z.string().max(128),
    reason: z.string().max(512),
  })).max(32).nullable().optional(),
};

const DepthDocument = z.object(DepthDocumentShape);
type DepthDocument = z.infer<typeof DepthDocument>;

type DepthSample = Pick<
  MetricSample,
  | "uptimeS"
  | "bootTime"
  | "pageFileTotal"
  | "pageFileUsed"
  | "processorQueue"
  | "contextSwitchesPs"
  | "cpuCores"
  | "physicalDisks"
  | "services"
  | "processes"
  | "processNames"
  | "events"
  | "partial"
>;

/** Only the fields the document has, so a standard sample stays as small as before. */
export function depthOfDocument(doc: DepthDocument): DepthSample {
  const out: DepthSample = {};
  if (doc.uptime_s != null) out.uptimeS = doc.uptime_s;
  if (doc.boot_time) out.bootTime = Date.parse(doc.boot_time);
  if (doc.page_file_total != null) out.pageFileTotal = doc.page_file_total;
  if (doc.page_file_used != null) out.pageFileUsed = doc.page_file_used;
  if (doc.processor_queue != null) out.processorQueue = doc.processor_queue;
  if (doc.context_switches_ps != null) out.contextSwitchesPs = doc.context_switches_ps;
  if (doc.cpu_cores) out.cpuCores = doc.cpu_cores;
  if (doc.physical_disks) {
    out.physicalDisks = doc.physical_disks.map((d) => ({
      name: d.name,
      readsPs: d.reads_ps,
      writesPs: d.writes_ps,
      readBps: d.read_bps,
      writeBps: d.write_bps,
      queue: d.queue,
      secPerTransfer: d.sec_per_transfer,
    }));
  }
  if (doc.services) {
    out.services = doc.services.map((s) => ({
      name: s.name,
      displayName: s.display_name,
      state: s.state,
      startMode: s.start_mode,
    }));
  }
  if (doc.processes) {
    out.processes = doc.processes.map((p) => ({
      name: p.name,
      pid: p.pid,
      cpuPercent: p.cpu_percent,
      memory: p.memory,
      threads: p.threads,
      handles: p.handles,
    }));
  }
  if (doc.process_names) out.processNames = doc.process_names;
  if (doc.events) {
    out.events = doc.events.map((e) => ({
      log: e.log,
      record: e.record,
      ts: Date.parse(e.ts),
      source: e.source,
      eventId: e.event_id,
      level: e.level,
      message: e.message,
    }));
  }
  if (doc.partial?.length) out.partial = doc.partial;
  return out;
}
