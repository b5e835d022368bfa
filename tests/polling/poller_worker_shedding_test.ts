/**
 * The real poller Worker sheds: its polls hang on a credential the test has not answered yet, a
 * monitor already in the Worker is not taken again, the wait queue holds polling.max_queued, and
 * the stats it posts count both kinds of skipped deadlines; a monitor that leaves the schedule has
 * its waiting poll dropped and reported as finished.
 */
import { assertEquals } from "../helpers/assert.ts";
import type { PollerCommand, PollerEvent, PollerStats, PollJob } from "../../lib/messages.ts";

const job = (monitorId: number): PollJob => ({
  monitorId,
  deviceId: monitorId,
  deviceIp: `127.0.44.${monitorId}`,
  credentialProfileId: 1,
  pluginId: 1,
  dueAt: Date.now(),
  intervalS: 60,
});

/** A real poller Worker whose polls hang on credentials until `releaseAll` refuses them. */
async function openWorker(init: { maxQueued: number; queueBurstMs?: number }) {
  const dir = await Deno.makeTempDir({ prefix: "nmslite-shed-" });
  const worker = new Worker(new URL("../../workers/poller.ts", import.meta.url).href, {
    type: "module",
  });
  const stats: PollerStats[] = [];
  const held: number[] = [];
  const finished: number[] = [];
  let release = false;
  let stopped: () => void = () => {};
  const stoppedP = new Promise<void>((r) => (stopped = r));
  const send = (cmd: PollerCommand) => worker.postMessage(cmd);
  const refuse = (requestId: number) =>
    send({ type: "credential", requestId, credential: null, error: "test: no credential" });
  worker.onmessage = (e: MessageEvent<PollerEvent>) => {
    const ev = e.data;
    if (ev.type === "credential-request") {
      if (release) refuse(ev.requestId);
      else held.push(ev.requestId);
    } else if (ev.type === "stats") stats.push(ev.stats);
    else if (ev.type === "finished") finished.push(...ev.monitorIds);
    else if (ev.type === "stopped") stopped();
  };
  const nextStats = async () => {
    const n = stats.length;
    send({ type: "stats" });
    while (stats.length === n) await new Promise((r) => setTimeout(r, 10));
    return stats[stats.length - 1];
  };
  send({
    type: "init",
    workerId: 1,
    kvPath: `${dir}/queue.kv`,
    concurrency: 1,
    perHostLimit: 1,
    pollTimeoutMs: 3_600_000,
    retries: 0,
    retryBackoffMs: 100,
    credentialTtlMs: 60_000,
    winrmPipelining: true,
    ...init,
  });
  while (stats.length === 0) await new Promise((r) => setTimeout(r, 10)); // init done
  return {
    send,
    nextStats,
    finished,
    /** refuses every credential asked for, now and from now on: the polls fail and finish */
    releaseAll() {
      release = true;
      for (const id of held.splice(0)) refuse(id);
    },
    async close() {
      this.releaseAll();
      send({ type: "stop" });
      await stoppedP;
      worker.terminate();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const plugin = { id: 1, name: "windows-winrm", type: "builtin" as const, config: {} };

Deno.test("poller Worker: one poll per monitor, a bounded queue, skips counted", async () => {
  // a strict bound (no burst allowance): past 2 waiting, every due poll is shed
  const w = await openWorker({ maxQueued: 2, queueBurstMs: 0 });
  const { send, nextStats, finished } = w;
  try {
    for (let i = 0; i < 3; i++) send({ type: "poll", job: job(1), plugin }); // 1 runs, hung
    for (let id = 2; id <= 6; id++) send({ type: "poll", job: job(id), plugin });
    send({ type: "poll", job: job(2), plugin }); // queued already
    // messages are handled in order: these stats come after every poll above
    const s = await nextStats();
    assertEquals(s.inFlight, 1);
    assertEquals(s.queued, 2);
    assertEquals(s.concurrency, 1);
    assertEquals(s.maxQueued, 2);
    assertEquals(s.skipped, { busy: 3, queue_full: 3 });
    // monitor 3 is disabled while its poll waits: the poll is dropped and reported as left
    // (99 is in no Worker's queue: nothing happens to it)
    send({ type: "forget", monitorIds: [3, 99] });
    assertEquals((await nextStats()).queued, 1);
    while (!finished.includes(3)) await new Promise((r) => setTimeout(r, 10));
    assertEquals(finished.includes(99), false);
    // let everything finish (refused credential: not retried), then nothing is left
    w.releaseAll();
    for (;;) {
      const done = await nextStats();
      if (done.polls.failed === 2) {
        assertEquals(done.inFlight + done.queued, 0);
        break;
      }
    }
  } finally {
    await w.close();
  }
});

Deno.test("poller Worker: by default a burst past the bound waits, up to four times it", async () => {
  // the polls of one scheduler slot arrive together: none has waited 1.5 s yet
  const w = await openWorker({ maxQueued: 2 });
  try {
    for (let id = 1; id <= 11; id++) w.send({ type: "poll", job: job(id), plugin });
    const s = await w.nextStats();
    assertEquals(s.inFlight, 1);
    assertEquals(s.queued, 8, "4 x the bound of 2");
    assertEquals(s.maxQueued, 2);
    assertEquals(s.skipped, { busy: 0, queue_full: 2 });
  } finally {
    await w.close();
  }
});
