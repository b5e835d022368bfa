/**
 * Test parts for alerting: a real webhook receiver on a loopback port (it can be turned down
 * and up), and the smallest sender that POSTs a notification to it. The real channel senders
 * live in lib/alerting/channels and have their own tests.
 */
import type { ChannelSender, Notification } from "../../lib/alerting/notification.ts";
import type { SenderFactory } from "../../lib/alerting/runtime.ts";
import type { MetricSample } from "../../lib/messages.ts";
import type { Database } from "../../lib/db/driver.ts";
import { channelsRepo, policiesRepo } from "../../lib/db/notifications.ts";

export interface Receiver {
  url: string;
  received: Notification[];
  /** answer 503 while down */
  down: boolean;
  /** requests refused while down */
  refused: number;
  close(): Promise<void>;
}

export function startReceiver(): Receiver {
  const r: Receiver = {
    url: "",
    received: [],
    down: false,
    refused: 0,
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const body = await req.json();
    if (r.down) {
      r.refused++;
      return new Response("down", { status: 503 });
    }
    r.received.push(body);
    return new Response("ok");
  });
  r.url = `http://127.0.0.1:${server.addr.port}/hook`;
  return r;
}

/** POSTs the notification as JSON to settings.url; 5xx is retryable. */
export const testSenders: SenderFactory = (config) => {
  const sender: ChannelSender = {
    type: config.type,
    async send(n: Notification, signal?: AbortSignal) {
      const started = performance.now();
      try {
        const res = await fetch(String(config.settings.url), {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": n.idempotencyKey },
          body: JSON.stringify(n),
          signal,
        });
        await res.body?.cancel();
        const durationMs = performance.now() - started;
        if (res.ok) return { ok: true, status: String(res.status), durationMs };
        return {
          ok: false,
          retryable: res.status >= 500,
          status: String(res.status),
          detail: "receiver refused",
          durationMs,
        };
      } catch (err) {
        return {
          ok: false,
          retryable: true,
          status: "error",
          detail: (err as Error).name,
          durationMs: performance.now() - started,
        };
      }
    },
  };
  return sender;
};

export const testChannelKinds = {
  validate: (
    _type: string,
    settings: Record<string, unknown>,
    secrets: Record<string, string>,
  ) =>
    typeof settings.url === "string" && settings.url.startsWith("http")
      ? { ok: true as const, settings, secrets }
      : { ok: false as const, field: "settings.url", message: "must be an http(s) URL" },
  senders: testSenders,
};

/** A sample with the given volumes (used %, of 100 GB each) and CPU. */
export function sample(
  monitorId: number,
  ts: number,
  opts: { cpu?: number; volumes?: Record<string, number> } = {},
): MetricSample {
  const total = 100e9;
  return {
    monitorId,
    ts,
    cpuPercent: opts.cpu ?? 10,
    memoryTotal: 8e9,
    memoryUsed: 2e9,
    diskTotal: null,
    diskUsed: null,
    netSentBps: null,
    netRecvBps: null,
    netPacketsSent: null,
    netPacketsRecv: null,
    netErrors: null,
    netDiscards: null,
    netUtilization: null,
    processCount: 100,
    collectionMs: 50,
    volumes: Object.entries(opts.volumes ?? { "C:": 40 }).map(([name, pct]) => ({
      name,
      total,
      used: total * pct / 100,
    })),
    interfaces: null,
  };
}

/**
 * A webhook channel to `url` and a policy sending it every problem (info and up, resolved
 * too), repeated every `repeatIntervalS` (null: never). Returns the channel's id.
 */
export async function notifyEverythingTo(
  db: Database,
  url: string,
  repeatIntervalS: number | null,
): Promise<number> {
  const channel = await channelsRepo.create(db, {
    name: "hook",
    type: "webhook",
    settings: { url },
    secrets: null,
    enabled: true,
  });
  await policiesRepo.create(db, {
    name: "all",
    channel_id: channel.id,
    min_severity: "info",
    tag: null,
    repeat_interval_s: repeatIntervalS,
    send_resolved: true,
    enabled: true,
  });
  return channel.id;
}
