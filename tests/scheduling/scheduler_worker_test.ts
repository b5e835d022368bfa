/**
 * The scheduler as a real Worker on the real clock, with sub-second intervals so it stays
 * quick. Assertions are about what fires and in which order, never how fast: the only timer
 * here is a guard that turns a hang into a failure.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import type {
  PollJob,
  ScheduledMonitor,
  SchedulerCommand,
  SchedulerEvent,
  SchedulerStats,
} from "../../lib/messages.ts";

const HANG_GUARD_MS = 20_000;

function monitor(monitorId: number, intervalS: number, deviceIp = "10.0.0.1"): ScheduledMonitor {
  return {
    monitorId,
    deviceId: 100 + monitorId,
    deviceIp,
    credentialProfileId: 3,
    pluginId: 4,
    intervalS,
  };
}

class SchedulerWorker {
  readonly worker = new Worker(new URL("../../workers/scheduler.ts", import.meta.url).href, {
    type: "module",
  });
  readonly batches: PollJob[][] = [];
  private waiters: Array<() => void> = [];
  private lastStats: SchedulerStats | undefined;

  constructor() {
    this.worker.onmessage = (e: MessageEvent<SchedulerEvent>) => {
      if (e.data.type === "due") this.batches.push(e.data.jobs);
      else this.lastStats = e.data.stats;
      for (const wake of this.waiters) wake();
    };
  }

  send(command: SchedulerCommand): void {
    this.worker.postMessage(command);
  }

  /** Resolves once `ready()` holds after some event; fails only if it never does. */
  until(what: string, ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`scheduler worker never got to: ${what}`));
      }, HANG_GUARD_MS);
      const check = () => {
        if (!ready()) return;
        clearTimeout(guard);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  /** Stats as of now: commands are handled in order, so this reply follows every earlier one. */
  async stats(): Promise<SchedulerStats> {
    this.lastStats = undefined;
    this.send({ type: "stats" });
    await this.until("a stats reply", () => this.lastStats !== undefined);
    return this.lastStats!;
  }

  jobsOf(monitorId: number, fromBatch = 0): PollJob[] {
    return this.batches.slice(fromBatch).flat().filter((j) => j.monitorId === monitorId);
  }

  close(): void {
    this.send({ type: "stop" });
    this.worker.terminate();
  }
}

Deno.test("scheduler worker: fires loaded monitors repeatedly, on their grids, in batches", async () => {
  const scheduler = new SchedulerWorker();
  try {
    scheduler.send({ type: "load", monitors: [monitor(1, 0.1), monitor(2, 0.1), monitor(3, 0.2)] });
    await scheduler.until(
      "3 fires of every monitor",
      () => [1, 2, 3].every((id) => scheduler.jobsOf(id).length >= 3),
    );
    for (const id of [1, 2, 3]) {
      const jobs = scheduler.jobsOf(id);
      const interval = id === 3 ? 200 : 100;
      for (let i = 1; i < jobs.length; i++) {
        const step = jobs[i].dueAt - jobs[i - 1].dueAt;
        assert(step > 0 && step % interval === 0, `monitor ${id}: deadlines ${step} ms apart`);
      }
      assertEquals(jobs[0].deviceId, 100 + id);
      assertEquals(jobs[0].credentialProfileId, 3);
      assertEquals(jobs[0].pluginId, 4);
    }
    for (const batch of scheduler.batches) {
      const ids = batch.map((j) => j.monitorId);
      assertEquals(new Set(ids).size, ids.length, "a monitor appears once per batch");
      // 1 and 2 share interval and phase: they are always due together, so in one message
      assertEquals(ids.includes(1), ids.includes(2), `batch ${JSON.stringify(ids)}`);
    }
    const stats = await scheduler.stats();
    assertEquals(stats.monitors, 3);
    assertEquals(stats.fired, scheduler.batches.flat().length);
  } finally {
    scheduler.close();
  }
});

Deno.test("scheduler worker: upsert and remove take effect without a restart", async () => {
  const scheduler = new SchedulerWorker();
  try {
    scheduler.send({ type: "load", monitors: [monitor(1, 0.1), monitor(2, 0.1)] });
    // an hour-long interval, then sped up: the change must reach the running timer
    scheduler.send({ type: "upsert", monitor: monitor(5, 3600) });
    scheduler.send({ type: "upsert", monitor: monitor(5, 0.1, "10.0.0.5") });
    await scheduler.until("monitor 5 fires", () => scheduler.jobsOf(5).length >= 2);
    assertEquals(scheduler.jobsOf(5)[0].deviceIp, "10.0.0.5");
    assertEquals(scheduler.jobsOf(5)[0].intervalS, 0.1);

    scheduler.send({ type: "remove", monitorId: 1 });
    const afterRemove = await scheduler.stats();
    assertEquals(afterRemove.monitors, 2);
    const mark = scheduler.batches.length; // every batch from here was made after the remove
    await scheduler.until("5 more fires of monitor 2", () => scheduler.jobsOf(2, mark).length >= 5);
    assertEquals(scheduler.jobsOf(1, mark), [], "a removed monitor does not fire");

    // load replaces the whole set
    scheduler.send({ type: "load", monitors: [monitor(9, 0.1)] });
    assertEquals((await scheduler.stats()).monitors, 1);
    const mark2 = scheduler.batches.length;
    await scheduler.until("3 fires of monitor 9", () => scheduler.jobsOf(9, mark2).length >= 3);
    assertEquals(
      scheduler.batches.slice(mark2).flat().filter((j) => j.monitorId !== 9),
      [],
      "only the loaded monitor fires",
    );
  } finally {
    scheduler.close();
  }
});

Deno.test("scheduler worker: a bad monitor is refused and the worker keeps going", async () => {
  const scheduler = new SchedulerWorker();
  try {
    scheduler.send({ type: "upsert", monitor: monitor(1, 0.1) });
    scheduler.send({ type: "upsert", monitor: monitor(2, 0) });
    assertEquals((await scheduler.stats()).monitors, 1);
    await scheduler.until("monitor 1 fires", () => scheduler.jobsOf(1).length >= 1);
  } finally {
    scheduler.close();
  }
});

Deno.test("scheduler worker: a change applies many upserts and removes, a bad one alone refused", async () => {
  const scheduler = new SchedulerWorker();
  try {
    scheduler.send({ type: "load", monitors: [monitor(1, 0.1), monitor(2, 0.1), monitor(3, 0.1)] });
    scheduler.send({
      type: "change",
      // 4 new, 2 changed (an hour: it stops firing soon), 6 bad (interval 0), 1 and 3 removed
      upserts: [monitor(4, 0.1, "10.0.0.4"), monitor(2, 3600), monitor(6, 0)],
      removes: [1, 3],
    });
    assertEquals((await scheduler.stats()).monitors, 2); // 2 and 4
    const mark = scheduler.batches.length;
    await scheduler.until("3 fires of monitor 4", () => scheduler.jobsOf(4, mark).length >= 3);
    assertEquals(scheduler.jobsOf(4, mark)[0].deviceIp, "10.0.0.4");
    for (const id of [1, 3, 6]) assertEquals(scheduler.jobsOf(id, mark), [], `monitor ${id}`);
    assert(scheduler.jobsOf(2, mark).length <= 1, "monitor 2 now fires hourly");
  } finally {
    scheduler.close();
  }
});
