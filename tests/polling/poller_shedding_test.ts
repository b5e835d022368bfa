/**
 * Overload sheds, it does not pile up: one poll per monitor in the poller, a bounded wait
 * queue, and every dropped deadline counted. Collection is held open by the test (no timing).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  DEFAULT_QUEUE_BURST_MS,
  defaultMaxQueued,
  defaultSlowLane,
  Poller,
  PollTimeoutError,
  queueHardCap,
} from "../../lib/polling/poller.ts";
import { MonitorScheduler } from "../../lib/scheduling/scheduler.ts";
import { pollerSaturation } from "../../lib/observability/poller_load.ts";
import type {
  Credential,
  MetricSample,
  PluginSpec,
  PollJob,
  PollOutcome,
  ScheduledMonitor,
} from "../../lib/messages.ts";

const START = Date.UTC(2026, 0, 1, 12, 0, 0);
const plugin: PluginSpec = { id: 1, name: "windows-winrm", type: "builtin", config: {} };
const credential = { id: 1, password: "x" } as Credential;

function job(monitorId: number, ip = `127.0.${monitorId >> 8 & 255}.${monitorId & 255}`): PollJob {
  return {
    monitorId,
    deviceId: monitorId,
    deviceIp: ip,
    credentialProfileId: 1,
    pluginId: 1,
    dueAt: START,
    intervalS: 60,
  };
}

/** A poller whose polls finish only when the test releases them. */
function held(
  opts: { concurrency: number; maxQueued?: number; perHostLimit?: number; burstMs?: number },
) {
  const clock = { now: START };
  const waiting: (() => void)[] = [];
  const started: number[] = [];
  const outcomes: PollOutcome[] = [];
  const poller = new Poller({
    concurrency: opts.concurrency,
    maxQueued: opts.maxQueued,
    burstMs: opts.burstMs,
    perHostLimit: opts.perHostLimit ?? 1,
    pollTimeoutMs: 3_600_000,
    retries: 0,
    backoffBaseMs: 1,
    now: () => clock.now,
    getCredential: () => Promise.resolve(credential),
    collect: (j) => {
      started.push(j.monitorId);
      return new Promise<MetricSample>((resolve) =>
        waiting.push(() => resolve({ monitorId: j.monitorId, ts: clock.now } as MetricSample))
      );
    },
    onSample: () => {},
    onOutcome: (o) => outcomes.push(o),
  });
  /** Lets every running poll finish, and what they free up start, until nothing is left. */
  const drain = async () => {
    while (poller.active + poller.queued > 0) {
      for (const release of waiting.splice(0)) release();
      await new Promise((r) => setTimeout(r, 0));
    }
    await poller.idle();
  };
  return { clock, poller, started, outcomes, drain, waiting };
}

Deno.test("poller: a monitor whose poll never finishes is not queued twice", async () => {
  const { poller, started, outcomes, drain } = held({ concurrency: 1 });
  assertEquals(poller.submit(job(1), plugin), "queued"); // running, hung
  assertEquals(poller.submit(job(2), plugin), "queued"); // waiting for the one slot
  for (let i = 0; i < 5; i++) {
    assertEquals(poller.submit(job(1), plugin), "busy", "running: not queued again");
    assertEquals(poller.submit(job(2), plugin), "busy", "queued: not queued again");
  }
  assertEquals(poller.active, 1);
  assertEquals(poller.queued, 1);
  assertEquals(poller.stats.skipped, { busy: 10, queue_full: 0 });
  await drain();
  assertEquals(started, [1, 2]);
  assertEquals(outcomes.length, 2);
  // once its poll has finished, the monitor is taken again
  assertEquals(poller.submit(job(1), plugin), "queued");
  await drain();
  assertEquals(started, [1, 2, 1]);
});

Deno.test("poller: the wait queue stays within its bound under a flood of due monitors", async () => {
  const { poller, started, outcomes, drain } = held({ concurrency: 4, maxQueued: 10 });
  const results = new Map<string, number>();
  for (let id = 1; id <= 5_000; id++) {
    const r = poller.submit(job(id), plugin);
    results.set(r, (results.get(r) ?? 0) + 1);
    assert(poller.queued <= 10, `queue ${poller.queued} over its bound`);
  }
  assertEquals(results.get("queued"), 14, "4 running + 10 waiting");
  assertEquals(results.get("queue_full"), 4_986);
  assertEquals(poller.stats.skipped, { busy: 0, queue_full: 4_986 });
  assertEquals(poller.active, 4);
  assertEquals(poller.queued, 10);
  assertEquals(poller.saturation, 14 / 4);
  await drain();
  assertEquals(outcomes.length, 14, "only what was taken ran; nothing was caught up later");
  assertEquals(started.length, 14);
  assertEquals(poller.saturation, 0);
});

Deno.test("poller: a burst past the bound is taken while it is young, overload is shed", async () => {
  // a scheduler slot's polls arrive together: past the bound of 10 the queue takes them while
  // its oldest poll has waited less than 2 s, up to four times the bound
  const { poller, clock, started, waiting, drain } = held({
    concurrency: 2,
    maxQueued: 10,
    burstMs: 2_000,
  });
  const tick = () => new Promise((r) => setTimeout(r, 0));
  /** Lets the longest-running poll finish (and a waiting one take its slot). */
  const release = async () => {
    await tick();
    waiting.shift()!();
    await tick();
  };
  const submit = (from: number, to: number) => {
    const r: Record<string, number> = {};
    for (let id = from; id <= to; id++) {
      const res = poller.submit(job(id), plugin);
      r[res] = (r[res] ?? 0) + 1;
    }
    return r;
  };
  assertEquals(submit(1, 50), { queued: 42, queue_full: 8 }, "2 running + 40 waiting (4 x 10)");
  assertEquals(poller.queued, 40);
  clock.now += 1_999; // still a burst: a poll that frees a slot lets one more in
  await release();
  assertEquals(poller.queued, 39);
  assertEquals(submit(51, 52), { queued: 1, queue_full: 1 });
  clock.now += 1; // the oldest waiting poll has waited 2 s: this is overload, the bound holds
  await release();
  assertEquals(poller.queued, 39);
  assertEquals(submit(53, 55), { queue_full: 3 });
  // drained below the bound, the queue takes polls again whatever their age
  for (let i = 0; i < 30; i++) {
    await release();
  }
  assertEquals(poller.queued, 9);
  clock.now += 60_000;
  assertEquals(submit(56, 56), { queued: 1 });
  assertEquals(poller.stats.skipped.queue_full, 12);
  await drain();
  assertEquals(started.length, 2 + 40 + 1 + 1);
});

Deno.test("poller: a free slot takes a poll even when the queue bound is 0", async () => {
  const { poller, drain } = held({ concurrency: 2, maxQueued: 0 });
  assertEquals(poller.submit(job(1), plugin), "queued");
  assertEquals(poller.submit(job(2), plugin), "queued");
  assertEquals(poller.submit(job(3), plugin), "queue_full");
  assertEquals(poller.queued, 0);
  await drain();
});

Deno.test("poller: polls held back by the per-host limit count against the bound", async () => {
  // one host, two operations at once: the rest wait, and the wait is bounded
  const { poller, drain } = held({ concurrency: 50, maxQueued: 3, perHostLimit: 2 });
  const results = [];
  for (let id = 1; id <= 10; id++) results.push(poller.submit(job(id, "127.0.0.9"), plugin));
  assertEquals(poller.active, 2);
  assertEquals(poller.queued, 3);
  assertEquals(results.filter((r) => r === "queue_full").length, 5);
  await drain();
});

Deno.test("poller: the default bound is derived from the concurrency", () => {
  assertEquals(defaultMaxQueued(200), 800);
  assertEquals(defaultMaxQueued(1), 64);
  const { poller } = held({ concurrency: 200 });
  assertEquals(poller.maxQueued, 800);
  assertEquals(poller.burstMs, 0, "a strict bound unless a burst is asked for");
  assertEquals(queueHardCap(800, DEFAULT_QUEUE_BURST_MS), 3_200);
  assertEquals(queueHardCap(800, 0), 800);
});

Deno.test("scheduler + poller: a hung monitor skips its deadlines, no burst when it recovers", async () => {
  const clock = { now: START };
  const scheduler = new MonitorScheduler({ now: () => clock.now });
  const { poller, started, drain } = held({ concurrency: 8 });
  const m: ScheduledMonitor = {
    monitorId: 7,
    deviceId: 7,
    deviceIp: "127.0.0.7",
    credentialProfileId: 1,
    pluginId: 1,
    intervalS: 10,
  };
  scheduler.upsert(m);
  const fire = () => scheduler.collectDue().map((j) => poller.submit(j, plugin));
  const results: string[] = [];
  // 10 intervals pass in 100 ms ticks while the first poll hangs
  for (let t = 0; t < 100_000; t += 100) {
    clock.now = START + t;
    results.push(...fire());
  }
  assertEquals(results[0], "queued");
  assertEquals(results.slice(1), Array(results.length - 1).fill("busy"));
  assert(results.length >= 9, `fired once per interval, got ${results.length}`);
  assertEquals(poller.stats.skipped.busy, results.length - 1, "every skipped deadline counted");
  assertEquals(scheduler.stats().lagMaxMs, 0, "the scheduler kept its grid; it did not lag");
  await drain();
  assertEquals(started, [7]);
  // recovered: the next interval fires one poll, not the ones it missed
  const next = scheduler.dueAt(7)!;
  clock.now = next;
  assertEquals(fire(), ["queued"]);
  assertEquals(poller.queued + poller.active, 1);
  await drain();
  assertEquals(started, [7, 7]);
});

Deno.test("pollerSaturation: load over concurrency across Workers, skips summed", () => {
  const base = {
    polls: { ok: 0, failed: 0, retried: 0 },
    durationBuckets: {},
    durationSumMs: 0,
    enqueuedBatches: 0,
  };
  const load = pollerSaturation([
    {
      ...base,
      workerId: 0,
      inFlight: 200,
      queued: 800,
      loadAverage: 150,
      loadMs: 90_000,
      concurrency: 200,
      maxQueued: 800,
      skipped: { busy: 5, queue_full: 70 },
      slow: { hosts: 12, inFlight: 50, lane: 50, pool: 1600, moved: 40, cutShort: 3 },
    },
    {
      ...base,
      workerId: 1,
      inFlight: 100,
      queued: 0,
      concurrency: 200,
      maxQueued: 800,
      skipped: { busy: 1, queue_full: 0 },
    },
  ]);
  assertEquals(load, {
    ratio: 1100 / 400,
    // a Worker that reports no average (an older one) counts with its instant load
    average: (150 + 100) / 400,
    loadSeconds: 90,
    capacity: 400,
    maxQueued: 1600,
    skipped: { busy: 6, queue_full: 70 },
    // a Worker that reports no slow lane (an older one) adds nothing to it
    slow: { hosts: 12, inFlight: 50, lane: 50, pool: 1600, moved: 40, cutShort: 3 },
  });
  assertEquals(pollerSaturation([]).ratio, 0);
});

Deno.test("poller: loadMs integrates the polls queued and running over time, shed ones not", async () => {
  const { poller, clock, waiting } = held({ concurrency: 2, maxQueued: 1 });
  const tick = () => new Promise((r) => setTimeout(r, 0));
  /** Lets the `n` longest-running polls finish (and what they free up start). */
  const release = async (n: number) => {
    await tick();
    for (let i = 0; i < n; i++) waiting.shift()!();
    await tick();
  };
  assertEquals(poller.loadMs, 0);
  clock.now += 500; // idle: nothing accrues
  assertEquals(poller.loadMs, 0);
  for (const id of [1, 2, 3]) assertEquals(poller.submit(job(id), plugin), "queued");
  assertEquals(poller.submit(job(4), plugin), "queue_full"); // dropped at once: never load
  clock.now += 1_000; // 2 running + 1 waiting for 1 s
  assertEquals(poller.loadMs, 3_000);
  await release(1); // one finished: the waiting one runs, 2 in the poller
  clock.now += 2_000;
  assertEquals(poller.loadMs, 3_000 + 2 * 2_000);
  await release(1);
  clock.now += 4_000; // the last alone
  assertEquals(poller.loadMs, 7_000 + 4_000);
  await release(1);
  assertEquals(poller.active + poller.queued, 0);
  clock.now += 10_000;
  assertEquals(poller.loadMs, 11_000, "nothing accrues once the poller is idle again");
  // the average over the busy span [500, 7500] ms: 11,000 poll-ms / 7,000 ms
  assertEquals(poller.loadMs / 7_000, 11 / 7);
});

Deno.test("poller: hosts whose last poll timed out start outside the slots, one lane's worth at a time", async () => {
  const clock = { now: START };
  const dead = new Set(["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
  let deadHang = false;
  const held: { ip: string; release(): void }[] = [];
  const started: string[] = [];
  const outcomes: PollOutcome[] = [];
  const poller = new Poller({
    concurrency: 4,
    perHostLimit: 1,
    pollTimeoutMs: 3_600_000,
    retries: 0,
    backoffBaseMs: 1,
    now: () => clock.now,
    getCredential: () => Promise.resolve(credential),
    collect: (j) => {
      started.push(j.deviceIp);
      if (dead.has(j.deviceIp) && !deadHang) {
        return Promise.reject(new PollTimeoutError("no answer in time"));
      }
      return new Promise<MetricSample>((resolve) =>
        held.push({
          ip: j.deviceIp,
          release: () => resolve({ monitorId: j.monitorId, ts: clock.now } as MetricSample),
        })
      );
    },
    onSample: () => {},
    onOutcome: (o) => outcomes.push(o),
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  assertEquals(poller.slowLane, 1, "a quarter of 4 slots");
  assertEquals(defaultSlowLane(200), 50);
  assertEquals(defaultSlowLane(2), 1);

  // the dead hosts' first polls run like any other and time out
  const deadIps = [...dead];
  deadIps.forEach((ip, i) => poller.submit(job(100 + i, ip), plugin));
  await poller.idle();
  assertEquals(outcomes.map((o) => o.errorClass), deadIps.map(() => "timeout"));
  // each retried in the slow pool after its first attempt's timeout
  assertEquals(poller.slow, { hosts: 6, inFlight: 0, lane: 1, pool: 32, moved: 6, cutShort: 0 });

  // next round: they hang until the test lets them go; healthy hosts are due too
  deadHang = true;
  started.length = 0;
  deadIps.forEach((ip, i) => poller.submit(job(100 + i, ip), plugin));
  for (let i = 1; i <= 8; i++) poller.submit(job(i), plugin);
  await settle();
  assertEquals(poller.active, 5, "the four slots for hosts that answer, the lane's one outside");
  assertEquals(poller.slow.inFlight, 1, "one poll at a time for the hosts that timed out");
  // the load is what the slots could take: 4 running and 4 healthy waiting, not the dead ones
  assertEquals([poller.queued, poller.load, poller.saturation], [9, 8, 2]);
  assertEquals(started.filter((ip) => dead.has(ip)).length, 1);
  // every healthy poll runs and finishes while the dead host's poll still hangs
  while (started.filter((ip) => !dead.has(ip)).length < 8 || held.some((h) => !dead.has(h.ip))) {
    const i = held.findIndex((h) => !dead.has(h.ip));
    if (i >= 0) held.splice(i, 1)[0].release();
    await settle();
  }
  assertEquals(started.filter((ip) => dead.has(ip)).length, 1, "no second dead poll started");
  assertEquals(poller.queued, 5, "the other five wait for the lane");
  assertEquals(poller.slow.inFlight, 1);

  // a host that answers leaves the lane, and the next one takes its place
  const answered = held.shift()!;
  answered.release();
  await settle();
  assertEquals(poller.slow.hosts, 5);
  assertEquals(poller.slow.inFlight, 1);
  assertEquals(started.filter((ip) => dead.has(ip)).length, 2);
  for (let rounds = 0; poller.active + poller.queued > 0 && rounds < 100; rounds++) {
    for (const h of held.splice(0)) h.release();
    await settle();
  }
  await poller.idle();
  assertEquals(
    poller.slow,
    // the second round started in the pool: nothing more moved into it
    { hosts: 0, inFlight: 0, lane: 1, pool: 32, moved: 6, cutShort: 0 },
    "every host answered in the end",
  );
});

Deno.test("poller: a full queue gives up a timed-out host's waiting poll for one to a host that answers", async () => {
  const { poller, mode, started, dropped, settle, drain } = byHost({
    concurrency: 4,
    maxQueued: 2,
    slowPool: 32,
    slowAfterMs: 3_600_000,
  });
  const dead = new Set(["10.9.1.1", "10.9.1.2", "10.9.1.3", "10.9.1.4"]);
  for (const ip of dead) mode.set(ip, "timeout");
  const deadJobs = [...dead].map((ip, i) => job(100 + i, ip));
  for (const j of deadJobs) poller.submit(j, plugin);
  await poller.idle();
  assertEquals(poller.slow.hosts, 4, "every dead host timed out once");
  started.length = 0;

  // next round (they hang now): the first dead poll takes the lane's one slot, two wait, the
  // fourth finds the queue full and, being to a dead host itself, is refused
  for (const ip of dead) mode.delete(ip);
  assertEquals(deadJobs.map((j) => poller.submit(j, plugin)), [
    "queued",
    "queued",
    "queued",
    "queue_full",
  ]);
  await settle();
  assertEquals(started, [100]);
  assertEquals(poller.queued, 2);
  // four healthy polls take the four slots at once (the dead one runs outside them)
  for (const id of [1, 2, 3, 4]) assertEquals(poller.submit(job(id), plugin), "queued");
  await settle();
  assertEquals(poller.active, 5);
  // the next two take the places of the newest dead polls waiting; the one after is refused
  assertEquals(poller.submit(job(5), plugin), "queued");
  assertEquals(dropped, [102]);
  assertEquals(poller.submit(job(6), plugin), "queued");
  assertEquals(dropped, [102, 101]);
  assertEquals(poller.submit(job(7), plugin), "queue_full", "no dead poll left to give way");
  assertEquals(poller.stats.skipped.queue_full, 4, "every poll that left counts once");
  assertEquals(poller.queued, 2);
  // a dropped poll is no longer pending: its monitor is refused for the full queue, not as busy
  assertEquals(poller.submit(deadJobs[2], plugin), "queue_full");
  assertEquals(poller.stats.skipped.busy, 0);

  await drain();
  assertEquals(started.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 100]);
});

Deno.test("poller: a timed-out host that is not polled again is forgotten after two intervals and its attempts", async () => {
  const clock = { now: START };
  const poller = new Poller({
    concurrency: 4,
    perHostLimit: 1,
    pollTimeoutMs: 30_000,
    retries: 2,
    backoffBaseMs: 1,
    now: () => clock.now,
    getCredential: () => Promise.resolve(credential),
    collect: () => Promise.reject(new PollTimeoutError("no answer in time")),
    onSample: () => {},
    onOutcome: () => {},
  });
  poller.submit(job(1, "10.9.2.1"), plugin); // intervalS 60
  await poller.idle();
  assertEquals(poller.slow.hosts, 1);
  // still due to be polled again: two intervals (120 s) and three attempts (90 s) from its end
  clock.now += 209_999;
  assertEquals(poller.slow.hosts, 1);
  clock.now += 1; // deactivated or deleted in the meantime: no longer counted as silent
  assertEquals(poller.slow.hosts, 0);
});

/** A poller whose polls hang or time out by host, as the test says; the rest are held. */
function byHost(
  opts: {
    concurrency: number;
    slowPool: number;
    slowAfterMs: number;
    retries?: number;
    maxQueued?: number;
  },
  clock?: { now: number },
) {
  const mode = new Map<string, "timeout" | "timeout-once">();
  const waiting: { id: number; release(): void }[] = [];
  const started: number[] = [];
  const outcomes: PollOutcome[] = [];
  const dropped: number[] = [];
  const poller = new Poller({
    concurrency: opts.concurrency,
    maxQueued: opts.maxQueued,
    slowPool: opts.slowPool,
    slowLane: 1,
    slowAfterMs: opts.slowAfterMs,
    perHostLimit: 1,
    pollTimeoutMs: 3_600_000,
    retries: opts.retries ?? 0,
    backoffBaseMs: 1,
    ...(clock ? { now: () => clock.now } : {}),
    getCredential: () => Promise.resolve(credential),
    collect: (j) => {
      started.push(j.monitorId);
      const m = mode.get(j.deviceIp);
      if (m === "timeout-once") mode.delete(j.deviceIp);
      if (m) return Promise.reject(new PollTimeoutError("no answer in time"));
      return new Promise<MetricSample>((resolve) =>
        waiting.push({
          id: j.monitorId,
          release: () => resolve({ monitorId: j.monitorId, ts: START } as MetricSample),
        })
      );
    },
    onSample: () => {},
    onOutcome: (o) => outcomes.push(o),
    onDropped: (j) => dropped.push(j.monitorId),
  });
  const settle = () => new Promise((r) => setTimeout(r, 0));
  const drain = async () => {
    for (let rounds = 0; poller.active + poller.queued > 0 && rounds < 1000; rounds++) {
      for (const w of waiting.splice(0)) w.release();
      await settle();
    }
    await poller.idle();
  };
  return { poller, mode, waiting, started, outcomes, dropped, settle, drain };
}

Deno.test("poller: a poll still running after slowAfterMs leaves its slot for the slow pool, or with the pool full is cut short for a waiting poll", async () => {
  const clock = { now: START };
  const { poller, started, outcomes, settle, drain } = byHost(
    { concurrency: 2, slowPool: 2, slowAfterMs: 1_000 },
    clock,
  );
  for (const id of [1, 2, 3]) poller.submit(job(id), plugin);
  await settle();
  assertEquals([started, poller.queued], [[1, 2], 1]);
  clock.now += 999;
  poller.submit(job(4), plugin);
  assertEquals([started, poller.queued], [[1, 2], 2], "not slow yet");
  clock.now += 1;
  poller.submit(job(5), plugin);
  await settle();
  assertEquals(started, [1, 2, 3, 4], "1 and 2 moved out: 3 and 4 took their slots");
  assertEquals([poller.stats.slowed, poller.slow.inFlight, poller.active], [2, 2, 4]);
  clock.now += 999;
  poller.submit(job(6), plugin);
  await settle();
  assertEquals([started, poller.queued, outcomes], [[1, 2, 3, 4], 2, []], "3 and 4: not slow yet");
  clock.now += 1;
  poller.submit(job(7), plugin);
  await settle();
  // slow too, and the pool is full: they end as timeouts, and 5 and 6 take their slots
  assertEquals(started, [1, 2, 3, 4, 5, 6]);
  assertEquals(
    outcomes.map((o) => [o.monitorId, o.ok, o.errorClass, o.attempts]),
    [[3, false, "timeout", 1], [4, false, "timeout", 1]],
  );
  assert(/no answer in 1000 ms; cut short before the 3600000 ms timeout/.test(outcomes[0].error!));
  assertEquals([poller.slow.moved, poller.slow.cutShort, poller.slow.hosts], [2, 2, 2]);
  assertEquals([poller.active, poller.queued], [4, 1]);
  await drain();
  assertEquals(started.sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
  assertEquals(poller.stats.cutShort, 2);
  assertEquals(poller.slow.inFlight, 0);
});

Deno.test("poller: with every slot taken by polls that hang, a timer moves them out when they turn slow", async () => {
  const { poller, started, drain } = byHost({ concurrency: 1, slowPool: 4, slowAfterMs: 20 });
  poller.submit(job(1), plugin);
  poller.submit(job(2), plugin);
  // nothing else is submitted and nothing finishes: only the poller's own timer can start 2
  for (let i = 0; i < 500 && !started.includes(2); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEquals(started, [1, 2]);
  assertEquals(poller.stats.slowed, 1);
  await drain();
});

Deno.test("poller: with the slow pool full and every slot taken by polls that hang, the timer cuts the oldest short for a waiting poll", async () => {
  const { poller, started, outcomes, drain } = byHost({
    concurrency: 1,
    slowPool: 1,
    slowAfterMs: 20,
  });
  for (const id of [1, 2, 3]) poller.submit(job(id), plugin);
  // 1 moves to the pool when it turns slow; then 2 turns slow with the pool full: only the
  // poller's own timer is left to let 3 in
  for (let i = 0; i < 500 && !started.includes(3); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assertEquals(started, [1, 2, 3]);
  assertEquals(outcomes.map((o) => [o.monitorId, o.errorClass]), [[2, "timeout"]]);
  assertEquals([poller.slow.moved, poller.slow.cutShort, poller.slow.inFlight], [1, 1, 1]);
  await drain();
});

Deno.test("poller: an attempt that times out marks its host at once; the retries wait in the slow pool, or are cut short when it is full", async () => {
  const { poller, mode, waiting, outcomes, settle, drain } = byHost({
    concurrency: 1,
    slowPool: 1,
    slowAfterMs: 3_600_000,
    retries: 2,
  });
  // a host that times out on every attempt: marked at the first, retried in the slow pool
  mode.set("10.9.3.1", "timeout");
  poller.submit(job(1, "10.9.3.1"), plugin);
  await poller.idle();
  assertEquals(outcomes.map((o) => [o.monitorId, o.attempts, o.errorClass]), [[1, 3, "timeout"]]);
  assertEquals([poller.slow.moved, poller.slow.cutShort, poller.slow.hosts], [1, 0, 1]);

  // now it hangs, in the slow pool (its host timed out last time): the pool is full
  mode.delete("10.9.3.1");
  poller.submit(job(1, "10.9.3.1"), plugin);
  await settle();
  assertEquals([poller.slow.inFlight, waiting.map((w) => w.id)], [1, [1]]);
  // a host not yet known to be silent times out in the only slot: no room to wait for its
  // retries, so its poll ends at the first timeout and the slot is free for the next poll
  mode.set("10.9.3.2", "timeout");
  poller.submit(job(2, "10.9.3.2"), plugin);
  poller.submit(job(3), plugin);
  await settle();
  await settle();
  assertEquals(outcomes.at(-1)!.monitorId, 2);
  assertEquals([outcomes.at(-1)!.attempts, outcomes.at(-1)!.errorClass], [1, "timeout"]);
  assertEquals([poller.slow.moved, poller.slow.cutShort], [1, 1]);
  assertEquals(poller.slow.hosts, 2, "marked at its first timeout");
  assertEquals(waiting.map((w) => w.id), [1, 3], "the next poll took the slot");
  await drain();
});

Deno.test("poller: forget drops the waiting polls of monitors that left the schedule, not running ones", async () => {
  const { poller, started, drain } = held({ concurrency: 1, maxQueued: 8 });
  for (const id of [1, 2, 3, 4]) poller.submit(job(id), plugin);
  assertEquals([poller.active, poller.queued], [1, 3]);
  assertEquals(poller.forget([1, 3, 77]).map((j) => j.monitorId), [3], "1 runs: it finishes");
  assertEquals(poller.queued, 2);
  assertEquals(poller.submit(job(3), plugin), "queued", "no longer pending");
  await drain();
  assertEquals(started, [1, 2, 4, 3]);
});

Deno.test("poller: an attempt that times out gives its slot to a waiting poll at once, and retries in the slow pool", async () => {
  const { poller, mode, started, drain } = byHost({
    concurrency: 1,
    slowPool: 4,
    slowAfterMs: 3_600_000,
    retries: 1,
  });
  mode.set("10.9.4.1", "timeout-once"); // then its retry hangs
  poller.submit(job(1, "10.9.4.1"), plugin);
  poller.submit(job(2), plugin);
  for (let i = 0; i < 200 && started.length < 3; i++) {
    await new Promise((r) => setTimeout(r, 5)); // the retry's backoff is a real 1-2 ms
  }
  assertEquals(started, [1, 2, 1], "2 took the slot; 1 retried outside it");
  assertEquals([poller.active, poller.slow.inFlight, poller.slow.hosts], [2, 1, 1]);
  await drain();
});
