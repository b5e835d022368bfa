/**
 * Scheduler throughput on a virtual clock: 10,000 monitors at 60 s (override with
 * `-- --monitors N --interval S`). Prints ops/s of upsert, interval change, remove and
 * due-collection, the biggest batch in a 100 ms tick, and heap memory.
 *
 *   deno run --allow-all bench/scheduler.ts
 */
import type { ScheduledMonitor } from "../lib/messages.ts";
import { MonitorScheduler } from "../lib/scheduling/scheduler.ts";

const args = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
const count = flag("monitors", 10_000);
const intervalS = flag("interval", 60);

const monitors: ScheduledMonitor[] = Array.from({ length: count }, (_, i) => ({
  monitorId: i + 1,
  deviceId: i + 1,
  deviceIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  credentialProfileId: 1,
  pluginId: 1,
  intervalS,
}));

function rate(label: string, ops: number, run: () => void): void {
  const start = performance.now();
  run();
  const ms = performance.now() - start;
  const perS = Math.round(ops / (ms / 1000));
  console.log(
    `${label.padEnd(34)} ${ops.toLocaleString().padStart(9)} ops  ${
      ms.toFixed(1).padStart(8)
    } ms  ${perS.toLocaleString().padStart(12)} ops/s`,
  );
}

const heapBefore = Deno.memoryUsage().heapUsed;
let now = Date.UTC(2026, 0, 1);
const scheduler = new MonitorScheduler({ now: () => now });

rate("upsert (new)", count, () => {
  for (const m of monitors) scheduler.upsert(m);
});
const heapAfter = Deno.memoryUsage().heapUsed;

rate("upsert (same interval, new ip)", count, () => {
  for (const m of monitors) scheduler.upsert({ ...m, deviceIp: "192.168.0.1" });
});
rate("upsert (interval change)", count, () => {
  for (const m of monitors) scheduler.upsert({ ...m, intervalS: intervalS * 2 });
});
rate("load (same set, phases kept)", count, () => scheduler.load(monitors));

// Pop: run three whole intervals in 100 ms ticks, like the worker would.
let fired = 0;
let biggestBatch = 0;
let ticks = 0;
rate("collectDue (fire + reschedule)", 3 * count, () => {
  const end = now + 3 * intervalS * 1000;
  while (now < end) {
    now += 100;
    ticks++;
    const jobs = scheduler.collectDue();
    fired += jobs.length;
    biggestBatch = Math.max(biggestBatch, jobs.length);
  }
});

// A stall of five intervals: everything fires once in one batch.
now += 5 * intervalS * 1000;
let stallBatch = 0;
rate("collectDue after a 5-interval stall", count, () => {
  stallBatch = scheduler.collectDue().length;
});

rate("remove", count, () => {
  for (const m of monitors) scheduler.remove(m.monitorId);
});

const stats = scheduler.stats();
console.log(
  `\n${count.toLocaleString()} monitors at ${intervalS} s: ${fired.toLocaleString()} fires over ${ticks} ticks, biggest 100 ms batch ${biggestBatch} (even spread would be ${
    Math.ceil(count / (intervalS * 10))
  }), stall batch ${stallBatch}, skipped ${stats.skipped.toLocaleString()}`,
);
console.log(
  `heap for ${count.toLocaleString()} scheduled monitors: ~${
    ((heapAfter - heapBefore) / 1024 / 1024).toFixed(1)
  } MiB (${Math.round((heapAfter - heapBefore) / count)} bytes each, GC permitting)`,
);
