import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import type { PollJob, ScheduledMonitor } from "../../lib/messages.ts";
import {
  MonitorScheduler,
  PHASE_RESOLUTION_MS,
  phaseOffsetMs,
} from "../../lib/scheduling/scheduler.ts";

const START = Date.UTC(2026, 0, 1, 12, 0, 0);

function monitor(monitorId: number, intervalS = 10, deviceIp = "10.0.0.1"): ScheduledMonitor {
  return {
    monitorId,
    deviceId: monitorId,
    deviceIp,
    credentialProfileId: 1,
    pluginId: 1,
    intervalS,
  };
}

/** A scheduler on a virtual clock that only moves when the test says so. */
function virtual(options: { lagWindow?: number } = {}) {
  const clock = { now: START };
  const scheduler = new MonitorScheduler({ now: () => clock.now, ...options });
  /** Ticks like the worker would (every stepMs) until `untilMs` after START. */
  const runUntil = (untilMs: number, stepMs = 100): PollJob[][] => {
    const batches: PollJob[][] = [];
    while (clock.now < START + untilMs) {
      clock.now = Math.min(clock.now + stepMs, START + untilMs);
      const jobs = scheduler.collectDue();
      if (jobs.length) batches.push(jobs);
    }
    return batches;
  };
  return { clock, scheduler, runUntil };
}

function byMonitor(batches: PollJob[][]): Map<number, number[]> {
  const dues = new Map<number, number[]>();
  for (const job of batches.flat()) {
    dues.set(job.monitorId, [...(dues.get(job.monitorId) ?? []), job.dueAt]);
  }
  return dues;
}

Deno.test("scheduler: every monitor fires once per interval, exactly on its grid", () => {
  const { scheduler, runUntil } = virtual();
  scheduler.load([monitor(1, 10), monitor(2, 10), monitor(3, 30)]);
  const dues = byMonitor(runUntil(120_000, 137)); // an odd step: fires are late by varying amounts
  assertEquals(dues.get(1)!.length, 12);
  assertEquals(dues.get(2)!.length, 12);
  assertEquals(dues.get(3)!.length, 4);
  for (const [id, list] of dues) {
    const interval = id === 3 ? 30_000 : 10_000;
    for (let i = 1; i < list.length; i++) {
      assertEquals(list[i] - list[i - 1], interval, `monitor ${id} drifted`);
    }
    assert(list[0] > START && list[0] <= START + interval, `first deadline of ${id} in range`);
  }
  const stats = scheduler.stats();
  assertEquals(stats.fired, 28);
  assertEquals(stats.skipped, 0);
  assertEquals(stats.monitors, 3);
  assert(stats.lagMaxMs < 137, `lag ${stats.lagMaxMs} is below one tick`);
});

Deno.test("scheduler: first deadlines of 10,000 monitors are spread over the interval", () => {
  const { scheduler } = virtual();
  const monitors = Array.from({ length: 10_000 }, (_, i) => monitor(i + 1, 60));
  scheduler.load(monitors);
  const perSecond = new Array(60).fill(0);
  for (const m of monitors) {
    perSecond[Math.floor((scheduler.dueAt(m.monitorId)! - START - 1) / 1000)]++;
  }
  // 10,000 / 60 s = 166.7 per second when perfectly even
  assert(Math.max(...perSecond) <= 175, `busiest second has ${Math.max(...perSecond)}`);
  assert(Math.min(...perSecond) >= 158, `quietest second has ${Math.min(...perSecond)}`);
  // phases are quantised: at most one deadline a slot, so few wake-ups a second
  const slots = 60_000 / PHASE_RESOLUTION_MS;
  const distinct = new Set(monitors.map((m) => scheduler.dueAt(m.monitorId)));
  assert(distinct.size <= slots, `${distinct.size} distinct first deadlines`);
  assert(distinct.size >= slots * 0.98, `${distinct.size} distinct deadlines: slots all used`);
  // the same ids get the same phases in any order and on any start (restart-stable)
  const other = new MonitorScheduler({ now: () => START + 7 * 60_000 });
  other.load([...monitors].reverse());
  for (const m of monitors) {
    assertEquals(
      (other.dueAt(m.monitorId)! - scheduler.dueAt(m.monitorId)!) % 60_000,
      0,
      `phase of ${m.monitorId}`,
    );
  }
});

Deno.test("scheduler: phases spread arbitrary ids too, within [0, interval)", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const id = 1_000_003 * i + 17;
    const phase = phaseOffsetMs(id, 10_000);
    assert(phase >= 0 && phase < 10_000, `phase ${phase}`);
    seen.add(Math.floor(phase / 1000));
  }
  assertEquals(seen.size, 10, "every second of the interval is used");
});

Deno.test("scheduler: everything due at one tick comes as one batch, in deadline order", () => {
  const { clock, scheduler } = virtual();
  scheduler.load(Array.from({ length: 100 }, (_, i) => monitor(i + 1, 10)));
  clock.now = START + 5_000;
  const jobs = scheduler.collectDue();
  assert(
    jobs.length >= 40 && jobs.length <= 60,
    `${jobs.length} of 100 due after half an interval`,
  );
  for (let i = 1; i < jobs.length; i++) assert(jobs[i - 1].dueAt <= jobs[i].dueAt, "ordered");
  assert(jobs.every((j) => j.dueAt <= clock.now), "none early");
  assertEquals(scheduler.collectDue(), [], "nothing is due twice at the same moment");
  assertEquals(scheduler.stats().fired, jobs.length);
});

Deno.test("scheduler: upsert adds, re-targets in place, and re-places on a new interval", () => {
  const { clock, scheduler, runUntil } = virtual();
  scheduler.upsert(monitor(7, 60, "10.0.0.7"));
  const firstDue = scheduler.dueAt(7)!;
  assert(firstDue > START && firstDue <= START + 60_000);

  clock.now = firstDue + 1; // overdue, not yet collected
  scheduler.upsert(monitor(7, 60, "10.0.0.77")); // same interval: same deadline
  assertEquals(scheduler.dueAt(7), firstDue);
  assertEquals(scheduler.collectDue().map((j) => j.deviceIp), ["10.0.0.77"]);

  scheduler.upsert(monitor(7, 2, "10.0.0.77")); // faster: effective within the new interval
  const due = scheduler.dueAt(7)!;
  assert(due > clock.now && due <= clock.now + 2_000, "re-placed within 2 s");
  const jobs = runUntil(firstDue - START + 10_000).flat();
  assertEquals(jobs.length, 5, "polls at 2 s in 10 s");
  assertEquals(jobs[0].deviceIp, "10.0.0.77");
  assertEquals(jobs[0].intervalS, 2);
  assertEquals(scheduler.size, 1);
});

Deno.test("scheduler: a removed monitor never fires again", () => {
  const { scheduler, runUntil } = virtual();
  scheduler.load([monitor(1, 10), monitor(2, 10)]);
  runUntil(25_000);
  assert(scheduler.remove(2));
  assert(!scheduler.remove(2), "removing twice finds nothing");
  assert(!scheduler.has(2));
  const dues = byMonitor(runUntil(100_000));
  assertEquals(dues.has(2), false);
  assert(dues.get(1)!.length >= 7);
  assertEquals(scheduler.stats().monitors, 1);
  scheduler.remove(1);
  assertEquals(scheduler.delayMs(), undefined, "no timer needed when nothing is scheduled");
});

Deno.test("scheduler: after a blocked loop each overdue monitor runs once, not in a burst", () => {
  const { clock, scheduler } = virtual();
  scheduler.load(Array.from({ length: 50 }, (_, i) => monitor(i + 1, 10)));
  const first = new Map(Array.from({ length: 50 }, (_, i) => [i + 1, scheduler.dueAt(i + 1)!]));
  clock.now = START + 45_000; // blocked for 4.5 intervals
  const jobs = scheduler.collectDue();
  assertEquals(jobs.length, 50, "one job per monitor");
  assertEquals(new Set(jobs.map((j) => j.monitorId)).size, 50);
  // each monitor passed 4 or 5 deadlines (depending on its phase); all but one are skipped
  const passed = jobs.reduce(
    (n, j) => n + (j.dueAt - first.get(j.monitorId)!) / 10_000 + 1,
    0,
  );
  assertEquals(scheduler.stats().skipped, passed - 50);
  for (const job of jobs) {
    assert(clock.now - job.dueAt < 10_000, "the job stands for the latest missed deadline");
    const next = scheduler.dueAt(job.monitorId)!;
    assertEquals(next, job.dueAt + 10_000, "back on its own grid, after now");
    assert(next > clock.now);
  }
  assertEquals(scheduler.collectDue(), [], "no catch-up burst");
  // phases survive the stall: the next second has ~5 of the 50, not all of them
  clock.now += 1_000;
  assert(scheduler.collectDue().length <= 10);
});

Deno.test("scheduler: load replaces the set and keeps the phase of unchanged monitors", () => {
  const { clock, scheduler } = virtual();
  scheduler.load([monitor(1, 10), monitor(2, 10), monitor(3, 10)]);
  const due1 = scheduler.dueAt(1)!;
  clock.now = due1 + 50; // due, but the tick has not come yet: the reload must not lose it
  scheduler.load([monitor(1, 10, "10.9.9.9"), monitor(2, 20), monitor(4, 10)]);
  assertEquals(scheduler.dueAt(1), due1, "unchanged interval keeps its deadline");
  const due2 = scheduler.dueAt(2)!;
  assert(due2 > clock.now && due2 <= clock.now + 20_000, "changed interval re-placed");
  assertEquals(scheduler.has(3), false);
  assert(scheduler.has(4));
  assertEquals(scheduler.size, 3);
  const jobs = scheduler.collectDue().filter((j) => j.monitorId === 1);
  assertEquals(jobs.map((j) => [j.deviceIp, j.dueAt]), [["10.9.9.9", due1]]);
});

Deno.test("scheduler: an invalid interval is refused and a load with one changes nothing", () => {
  const { scheduler } = virtual();
  scheduler.load([monitor(1)]);
  assertThrows(() => scheduler.upsert(monitor(2, 0)), RangeError);
  assertThrows(() => scheduler.load([monitor(3), monitor(4, -5)]), RangeError);
  assertThrows(() => scheduler.upsert(monitor(5, NaN)), RangeError);
  assertEquals(scheduler.size, 1);
  assert(scheduler.has(1));
});

Deno.test("scheduler: the timer delay is capped and zero when overdue", () => {
  const { clock, scheduler } = virtual();
  assertEquals(scheduler.delayMs(), undefined);
  scheduler.upsert(monitor(1, 3600));
  const due = scheduler.dueAt(1)!;
  clock.now = due - 10_000;
  assertEquals(scheduler.delayMs(), 1_000, "capped so clock jumps are noticed");
  clock.now = due - 250;
  assertEquals(scheduler.delayMs(), 250);
  clock.now = due + 5;
  assertEquals(scheduler.delayMs(), 0);
});

Deno.test("scheduler: lag percentiles over the recent window", () => {
  const { clock, scheduler } = virtual({ lagWindow: 4 });
  scheduler.upsert(monitor(1, 10));
  const lateBy = [0, 100, 200, 300, 400, 500];
  for (const late of lateBy) {
    clock.now = scheduler.dueAt(1)! + late;
    assertEquals(scheduler.collectDue().length, 1);
  }
  const stats = scheduler.stats();
  assertEquals(stats.fired, 6);
  // only the last 4 fires count: 200, 300, 400, 500
  assertEquals(stats.lagMaxMs, 500);
  assertEquals(stats.lagP50Ms, 300);
  assertEquals(stats.lagP99Ms, 500);
  assertEquals(new MonitorScheduler().stats().lagP99Ms, 0, "no fires: zero lag");
});

Deno.test("scheduler: a clock stepping back pulls deadlines back onto the grid", () => {
  const { clock, scheduler } = virtual();
  scheduler.load([monitor(1, 10), monitor(2, 60)]);
  clock.now = START + 30_000;
  scheduler.collectDue();
  clock.now = START - 3_600_000; // an hour back (NTP correction)
  scheduler.collectDue();
  for (const [id, interval] of [[1, 10_000], [2, 60_000]]) {
    const due = scheduler.dueAt(id)!;
    assert(due > clock.now && due <= clock.now + interval, `monitor ${id} due within an interval`);
    assertEquals((due - phaseOffsetMs(id, interval)) % interval, 0, `monitor ${id} on its grid`);
  }
  clock.now += 10_000;
  assertEquals(scheduler.collectDue().map((j) => j.monitorId).includes(1), true);
});
