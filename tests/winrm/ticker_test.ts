/** The shared coarse timer of the WinRM client (lib/winrm/ticker.ts). */
import { assert, assertEquals } from "../helpers/assert.ts";
import { cancel, postpone, schedule, wakeupCount } from "../../lib/winrm/ticker.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("ticker: timers fire never early, cancelled ones never, postponed ones later", async () => {
  // the ticker's interval does not keep the process alive; pending sockets do, this here
  const alive = setInterval(() => {}, 1_000);
  const fired: string[] = [];
  const start = performance.now();
  const at: Record<string, number> = {};
  const done = Promise.withResolvers<void>();
  const mark = (name: string) => () => {
    at[name] = performance.now() - start;
    fired.push(name);
    if (name === "last") done.resolve();
  };
  schedule(120, mark("b"));
  schedule(10, mark("a"));
  const cancelled = schedule(30, mark("cancelled"));
  cancel(cancelled);
  cancel(cancelled); // twice is harmless
  const moved = schedule(20, mark("moved"));
  postpone(moved, 200);
  // thousands of far timers, cancelled: they must neither fire nor hold up the near ones
  const far = Array.from({ length: 5_000 }, () => schedule(60_000, mark("far")));
  schedule(260, mark("last"));
  await done.promise;
  for (const t of far) cancel(t);
  await sleep(60);
  clearInterval(alive);
  assertEquals(fired, ["a", "b", "moved", "last"]);
  assert(at.a >= 10 && at.b >= 120 && at.moved >= 200 && at.last >= 260, JSON.stringify(at));
});

Deno.test("ticker: a thread whose timers are all far from due is not woken", async () => {
  const alive = setInterval(() => {}, 1_000);
  // a poller Worker between bursts: kept-alive connections' expiries and requests' read
  // timeouts, all seconds away; some cancelled, as answered requests' timeouts are
  const far = Array.from({ length: 2_000 }, (_, i) => schedule(30_000 + i * 10, () => {}));
  for (const t of far.slice(0, 1_000)) cancel(t);
  const before = wakeupCount();
  await sleep(400); // eight of the old 50 ms interval's wake-ups
  const during = wakeupCount() - before;
  // a near timer still fires on time, and the far ones stay put
  const fired = Promise.withResolvers<number>();
  const start = performance.now();
  schedule(30, () => fired.resolve(performance.now() - start));
  const after = await fired.promise;
  for (const t of far) cancel(t);
  clearInterval(alive);
  assertEquals(during, 0, "woken while nothing was due");
  assert(after >= 30, `fired after ${after} ms`);
});
