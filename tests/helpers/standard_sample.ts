/** A sample as a standard poll produces it, for writer and queue tests. */
import type { MetricSample } from "../../lib/messages.ts";

export function standardSample(
  monitorId: number,
  ts: number,
  over: Partial<MetricSample> = {},
): MetricSample {
  return {
    monitorId,
    ts,
    cpuPercent: 12.5,
    memoryTotal: 17_179_869_184,
    memoryUsed: 6_442_450_944,
    diskTotal: 511_906_406_400,
    diskUsed: 101_234_567_890,
    netSentBps: 12_000,
    netRecvBps: 56_000.5,
    netPacketsSent: 10,
    netPacketsRecv: 20,
    netErrors: 0,
    netDiscards: 1,
    netUtilization: 0.05,
    processCount: 143,
    collectionMs: 7,
    volumes: [{ name: 'C: "system"', total: 255_953_203_200, used: 101_234_567_890 }],
    interfaces: null,
    ...over,
  };
}
