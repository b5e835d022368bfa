import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import { IndexedMinHeap } from "../../lib/scheduling/min_heap.ts";

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function drain<K>(heap: IndexedMinHeap<K>): Array<[K, number]> {
  const out: Array<[K, number]> = [];
  for (let e = heap.pop(); e; e = heap.pop()) out.push([e.key, e.priority]);
  return out;
}

Deno.test("min heap: pops in priority order", () => {
  const heap = new IndexedMinHeap<string>();
  heap.set("c", 30);
  heap.set("a", 10);
  heap.set("d", 40);
  heap.set("b", 20);
  assertEquals(heap.size, 4);
  assertEquals(heap.peek(), { key: "a", priority: 10 });
  assertEquals(drain(heap), [["a", 10], ["b", 20], ["c", 30], ["d", 40]]);
  assertEquals(heap.size, 0);
  assertEquals(heap.pop(), undefined);
  assertEquals(heap.peek(), undefined);
});

Deno.test("min heap: set on an existing key moves it instead of adding a second entry", () => {
  const heap = new IndexedMinHeap<number>();
  for (let i = 1; i <= 5; i++) heap.set(i, i * 10);
  heap.set(5, 1); // up
  heap.set(1, 100); // down
  heap.set(3, 30); // same priority
  assertEquals(heap.size, 5);
  assertEquals(heap.priorityOf(5), 1);
  assertEquals(heap.priorityOf(1), 100);
  assertEquals(drain(heap).map(([k]) => k), [5, 2, 3, 4, 1]);
});

Deno.test("min heap: delete by key from the top, the middle and the end", () => {
  const heap = new IndexedMinHeap<number>();
  for (let i = 0; i < 10; i++) heap.set(i, i);
  assert(heap.delete(0));
  assert(heap.delete(5));
  assert(heap.delete(9));
  assert(!heap.delete(9), "a second delete finds nothing");
  assert(!heap.has(5));
  assertEquals(heap.priorityOf(5), undefined);
  assertEquals(drain(heap).map(([k]) => k), [1, 2, 3, 4, 6, 7, 8]);
});

Deno.test("min heap: equal priorities come out in the order they were set", () => {
  const heap = new IndexedMinHeap<string>();
  heap.set("first", 5);
  heap.set("second", 5);
  heap.set("third", 5);
  heap.set("first", 5); // re-set: now the latest
  assertEquals(drain(heap).map(([k]) => k), ["second", "third", "first"]);
});

Deno.test("min heap: matches a sorted model under random set/delete/pop", () => {
  const next = random(42);
  const heap = new IndexedMinHeap<number>();
  const model = new Map<number, number>();
  for (let step = 0; step < 20_000; step++) {
    const op = next();
    const key = Math.floor(next() * 500);
    if (op < 0.6) {
      const priority = Math.floor(next() * 1e6);
      heap.set(key, priority);
      model.set(key, priority);
    } else if (op < 0.8) {
      assertEquals(heap.delete(key), model.delete(key), `delete ${key} at step ${step}`);
    } else {
      const top = heap.pop();
      const min = Math.min(...model.values());
      if (model.size === 0) {
        assertEquals(top, undefined);
      } else {
        assert(top !== undefined, `pop at step ${step} found nothing`);
        assertEquals(top.priority, min, `pop at step ${step}`);
        assertEquals(model.get(top.key), min);
        model.delete(top.key);
      }
    }
    assertEquals(heap.size, model.size);
  }
  const rest = drain(heap);
  assertEquals(rest.map(([, p]) => p), [...model.values()].sort((a, b) => a - b));
});

Deno.test("min heap: entries lists every key; clear empties it; NaN is refused", () => {
  const heap = new IndexedMinHeap<number>();
  heap.set(1, 3);
  heap.set(2, 1);
  heap.set(3, 2);
  assertEquals([...heap.entries()].map((e) => e.key).sort(), [1, 2, 3]);
  heap.clear();
  assertEquals(heap.size, 0);
  assert(!heap.has(1));
  heap.set(7, 7);
  assertEquals(heap.pop(), { key: 7, priority: 7 });
  assertThrows(() => heap.set(8, NaN), RangeError);
});
