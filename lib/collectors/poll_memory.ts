/**
 * What a poller remembers between two polls of a monitor: where the event log was read up
 * to (on the host's clock), the disks' raw latency counters (the next poll's average is
 * the difference), and the services it last sent, so an unchanged service list
 * (a few hundred entries) crosses the queue only every SERVICES_RESEND_MS. Lost on restart:
 * then the event log is read from one interval back, the first poll's disk latency is the
 * host's formatted figure, and the services are sent again.
 */
import type { MetricsDocument } from "./metrics_document.ts";
import type { DiskLatencyRaws } from "./windows_depth.ts";

export const SERVICES_RESEND_MS = 10 * 60_000;
const MAX_MONITORS = 100_000;

interface Remembered {
  eventsSince: number | null;
  diskLatency?: DiskLatencyRaws;
  servicesKey: string | null;
  servicesSentAt: number;
}

export class PollMemory {
  readonly #byMonitor = new Map<number, Remembered>();

  eventsSince(monitorId: number, fallback: number): number {
    return this.#byMonitor.get(monitorId)?.eventsSince ?? fallback;
  }

  diskLatency(monitorId: number): DiskLatencyRaws | undefined {
    return this.#byMonitor.get(monitorId)?.diskLatency;
  }

  /** Records the poll; drops `doc.services` when they are unchanged and were sent lately. */
  afterPoll(
    monitorId: number,
    doc: MetricsDocument,
    hostTime: number | null,
    now: number,
    diskLatency?: DiskLatencyRaws,
  ): void {
    let m = this.#byMonitor.get(monitorId);
    if (!m) {
      if (this.#byMonitor.size >= MAX_MONITORS) this.#byMonitor.clear();
      m = { eventsSince: null, servicesKey: null, servicesSentAt: 0 };
      this.#byMonitor.set(monitorId, m);
    }
    m.diskLatency = diskLatency;
    // The newest entry read, or the host clock when the read was not cut short.
    if (doc.events?.length && doc.events_truncated) {
      m.eventsSince = Math.max(...doc.events.map((e) => Date.parse(e.ts)));
    } else if (hostTime !== null) m.eventsSince = hostTime;
    if (doc.services) {
      const key = doc.services.map((s) => `${s.name}\u0000${s.state}\u0000${s.start_mode}`)
        .join("\u0001");
      if (key === m.servicesKey && now - m.servicesSentAt < SERVICES_RESEND_MS) {
        delete doc.services;
      } else {
        m.servicesKey = key;
        m.servicesSentAt = now;
      }
    }
  }
}
