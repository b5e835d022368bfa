/**
 * IdBatches (lib/id_batches.ts): the change events a bulk API call emits one by one become a
 * few batched reads, applied one after the other in the order the changes came.
 */
import { assertEquals } from "./helpers/assert.ts";
import { IdBatches } from "../lib/id_batches.ts";

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("a burst of ids is handled in batches of at most `max`, once each, in order", async () => {
  const calls: number[][] = [];
  const b = new IdBatches((ids) => Promise.resolve(void calls.push(ids)), () => {}, 1_000);
  for (let id = 1; id <= 2_500; id++) b.add(id);
  b.add(7); // again before its batch ran: handled once
  await b.settled();
  assertEquals(calls.map((c) => c.length), [1_000, 1_000, 500]);
  assertEquals(calls.flat(), Array.from({ length: 2_500 }, (_, i) => i + 1));
});

Deno.test("ids added while a batch runs wait for it, then go together in the next", async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const b = new IdBatches(async (ids) => {
    log.push(`start ${ids.join(",")}`);
    if (ids[0] === 1) await gate;
    log.push(`end ${ids.join(",")}`);
  }, () => {});
  b.add(1);
  await tick();
  b.add(2);
  b.add(3);
  b.add(1); // changed again while its first read runs: read again afterwards
  await tick();
  assertEquals(log, ["start 1"]);
  release();
  await b.settled();
  assertEquals(log, ["start 1", "end 1", "start 2,3,1", "end 2,3,1"]);
});

Deno.test("run() goes after the batches already scheduled and before ids added later", async () => {
  const log: string[] = [];
  const b = new IdBatches(
    (ids) => Promise.resolve(void log.push(`batch ${ids.join(",")}`)),
    () => {},
  );
  b.add(1);
  const full = b.run(() => Promise.resolve(void log.push("full reload")));
  b.add(2);
  await full;
  await b.settled();
  assertEquals(log, ["batch 1", "full reload", "batch 2"]);
});

Deno.test("a failed batch is reported with its ids and the next ones still run", async () => {
  const failed: number[][] = [];
  const handled: number[] = [];
  const b = new IdBatches((ids) => {
    if (ids.includes(2)) return Promise.reject(new Error("database down"));
    handled.push(...ids);
    return Promise.resolve();
  }, (err, ids) => {
    assertEquals(err.message, "database down");
    failed.push(ids);
  }, 2);
  for (const id of [1, 2, 3, 4, 5]) b.add(id);
  await b.settled();
  assertEquals(failed, [[1, 2]]);
  assertEquals(handled, [3, 4, 5]);
  const rejected = b.run(() => Promise.reject(new Error("reload failed")));
  await rejected.then(() => assertEquals("resolved", "rejected"), () => {});
  b.add(6);
  await b.settled();
  assertEquals(handled, [3, 4, 5, 6]);
});
