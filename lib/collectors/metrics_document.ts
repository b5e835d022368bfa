/**
 * The metrics document a collector produces (an exec plugin prints it on stdout), validated
 * and turned into one `metrics` row. Fields left out are stored as null.
 */
import { z } from "zod";
import type { InterfaceSample, MetricSample, VolumeSample } from "../messages.ts";
import { DepthDocumentShape, depthOfDocument } from "./depth_document.ts";

const count = z.number().finite().nonnegative().nullable().optional();

export const MetricsDocument = z.object({
  cpu_percent: z.number().finite().min(0).max(100).nullable().optional(),
  memory_total: count,
  memory_used: count,
  disk_total: count,
  disk_used: count,
  net_sent_bps: count,
  net_recv_bps: count,
  net_packets_sent: count,
  net_packets_recv: count,
  net_errors: count,
  net_discards: count,
  net_utilization: z.number().finite().min(0).nullable().optional(),
  process_count: z.number().int().nonnegative().nullable().optional(),
  volumes: z.array(z.object({
    name: z.string().max(256),
    total: z.number().nonnegative(),
    used: z.number().nonnegative(),
  })).max(256).nullable().optional(),
  interfaces: z.array(z.object({
    name: z.string().max(256),
    sent_bps: z.number().nonnegative(),
    recv_bps: z.number().nonnegative(),
    packets_sent: z.number().nonnegative().default(0),
    packets_recv: z.number().nonnegative().default(0),
    errors: z.number().nonnegative().default(0),
    discards: z.number().nonnegative().default(0),
    bandwidth_bps: z.number().nonnegative().nullable().optional(),
    utilization: z.number().nonnegative().nullable().optional(),
  })).max(256).nullable().optional(),
  // extended and full collection profiles (depth_document.ts)
  ...DepthDocumentShape,
});

export type MetricsDocument = z.infer<typeof MetricsDocument>;

export class MetricsDocumentError extends Error {
  override name = "MetricsDocumentError";
}

export function parseMetricsDocument(value: unknown): MetricsDocument {
  const parsed = MetricsDocument.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MetricsDocumentError(
      `metrics document is invalid at ${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
  }
  return parsed.data;
}

export function toMetricSample(
  monitorId: number,
  ts: number,
  doc: MetricsDocument,
  collectionMs: number,
): MetricSample {
  const volumes: VolumeSample[] | null = doc.volumes ?? null;
  const interfaces: InterfaceSample[] | null = doc.interfaces?.map((i) => ({
    name: i.name,
    sentBps: i.sent_bps,
    recvBps: i.recv_bps,
    packetsSent: i.packets_sent,
    packetsRecv: i.packets_recv,
    errors: i.errors,
    discards: i.discards,
    bandwidthBps: i.bandwidth_bps ?? null,
    utilization: i.utilization ?? null,
  })) ?? null;
  const sum = <T>(items: T[] | null, pick: (t: T) => number) =>
    items && items.length ? items.reduce((n, t) => n + pick(t), 0) : null;
  return {
    monitorId,
    ts,
    cpuPercent: doc.cpu_percent ?? null,
    memoryTotal: doc.memory_total ?? null,
    memoryUsed: doc.memory_used ?? null,
    diskTotal: doc.disk_total ?? sum(volumes, (v) => v.total),
    diskUsed: doc.disk_used ?? sum(volumes, (v) => v.used),
    netSentBps: doc.net_sent_bps ?? sum(interfaces, (i) => i.sentBps),
    netRecvBps: doc.net_recv_bps ?? sum(interfaces, (i) => i.recvBps),
    netPacketsSent: doc.net_packets_sent ?? sum(interfaces, (i) => i.packetsSent),
    netPacketsRecv: doc.net_packets_recv ?? sum(interfaces, (i) => i.packetsRecv),
    netErrors: doc.net_errors ?? sum(interfaces, (i) => i.errors),
    netDiscards: doc.net_discards ?? sum(interfaces, (i) => i.discards),
    netUtilization: doc.net_utilization ?? null,
    processCount: doc.process_count ?? null,
    collectionMs: Math.round(collectionMs),
    volumes,
    interfaces,
    ...depthOfDocument(doc),
  };
}
