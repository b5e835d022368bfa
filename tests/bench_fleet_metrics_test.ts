/**
 * bench/fleet_metrics.ts: what a histogram observed between two scrapes of `GET /metrics`,
 * which bench:fleet's warm-up reads to tell the first cycle's late rows from the steady state.
 */
import { assertEquals } from "./helpers/assert.ts";
import { histogramQuantile, observedAbove, parseProm } from "../bench/fleet_metrics.ts";

const NAME = "nmslite_poll_to_row_seconds";

function scrapeOf(buckets: Record<string, number>) {
  return parseProm(
    Object.entries(buckets).map(([le, n]) => `${NAME}_bucket{le="${le}"} ${n}`).join("\n"),
  );
}

const before = scrapeOf({ "1": 10, "5": 20, "10": 25, "30": 30, "+Inf": 30 });

Deno.test("observedAbove counts the observations between two scrapes past a bucket bound", () => {
  // 100 more in all: 70 under 1 s, 20 in (1, 5], 6 in (5, 10], 4 in (10, 30]
  const after = scrapeOf({ "1": 80, "5": 110, "10": 121, "30": 130, "+Inf": 130 });
  assertEquals(observedAbove(before, after, NAME, 5), { count: 100, above: 10 });
  assertEquals(observedAbove(before, after, NAME, 10), { count: 100, above: 4 });
  assertEquals(observedAbove(before, after, NAME, 30), { count: 100, above: 0 });
});

Deno.test("observedAbove: nothing late when every new observation is under the bound", () => {
  const after = scrapeOf({ "1": 60, "5": 70, "10": 25 + 50, "30": 80, "+Inf": 80 });
  assertEquals(observedAbove(before, after, NAME, 5), { count: 50, above: 0 });
  // the same scrape twice: nothing observed
  assertEquals(observedAbove(after, after, NAME, 5), { count: 0, above: 0 });
});

Deno.test("observedAbove: a bound that is not a bucket of the histogram counts none above", () => {
  const after = scrapeOf({ "1": 10, "5": 20, "10": 25, "30": 40, "+Inf": 40 });
  assertEquals(observedAbove(before, after, NAME, 7), { count: 10, above: 0 });
  // and the p99 of the same delta lies in the (10, 30] bucket
  const p99 = histogramQuantile(before, after, NAME, 0.99);
  assertEquals(p99.count, 10);
  assertEquals(p99.value > 10 && p99.value <= 30, true);
});
