/**
 * The scheduler Worker: a thin shell around lib/scheduling. It applies SchedulerCommands,
 * keeps exactly one timer armed for the next deadline (capped, so a clock jump is noticed)
 * and posts every monitor due at a tick as one `due` batch.
 *
 * Start: new Worker(new URL("../workers/scheduler.ts", import.meta.url).href, { type: "module" })
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { SchedulerCommand, SchedulerEvent } from "../lib/messages.ts";
import { MonitorScheduler } from "../lib/scheduling/scheduler.ts";

const scheduler = new MonitorScheduler();
let timer: ReturnType<typeof setTimeout> | undefined;
let stopped = false;

function post(event: SchedulerEvent): void {
  self.postMessage(event);
}

/** Re-arm after every change, so an upsert or remove is effective at the next deadline. */
function arm(): void {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (stopped) return;
  const delay = scheduler.delayMs();
  if (delay !== undefined) timer = setTimeout(tick, delay);
}

function tick(): void {
  timer = undefined;
  const jobs = scheduler.collectDue();
  if (jobs.length > 0) post({ type: "due", jobs });
  arm();
}

function apply(command: SchedulerCommand): void {
  switch (command.type) {
    case "load":
      scheduler.load(command.monitors);
      break;
    case "upsert":
      scheduler.upsert(command.monitor);
      break;
    case "remove":
      scheduler.remove(command.monitorId);
      break;
    case "change":
      for (const monitor of command.upserts) {
        try {
          scheduler.upsert(monitor);
        } catch (err) {
          refused("upsert", err); // the rest of the batch still applies
        }
      }
      for (const monitorId of command.removes) scheduler.remove(monitorId);
      break;
    case "stats":
      post({ type: "stats", stats: scheduler.stats() });
      return;
    case "stop":
      stopped = true;
      arm();
      self.close();
      return;
  }
  arm();
}

self.onmessage = (event: MessageEvent<SchedulerCommand>) => {
  if (stopped) return;
  try {
    apply(event.data);
  } catch (err) {
    // A bad monitor (e.g. a non-positive interval) must not stop scheduling for the others.
    refused(event.data?.type, err);
  }
};

function refused(type: string | undefined, err: unknown): void {
  const reason = err instanceof Error ? err.message : String(err);
  console.error(`scheduler: ${type} command rejected: ${reason}`);
}
