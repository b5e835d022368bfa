/**
 * bench/fleet_report.ts: what a bench:fleet run says of the target (10,000 hosts at 60 s,
 * 5 min). A run past the target that falls short must not read as the target missed.
 */
import { assertEquals, assertMatch } from "./helpers/assert.ts";
import { targetVerdict } from "../bench/fleet_report.ts";

const run = { hosts: 10_000, interval: 60, silent: 0, seconds: 300, held: true };

Deno.test("targetVerdict: held at the target's size or past it for 5 min is MET", () => {
  assertEquals(targetVerdict(run), "MET");
  assertEquals(targetVerdict({ ...run, hosts: 50_000 }), "MET");
  assertEquals(targetVerdict({ ...run, hosts: 16_667, interval: 10 }), "MET");
});

Deno.test("targetVerdict: falling short at the target's own size for 5 min is NOT met", () => {
  assertEquals(targetVerdict({ ...run, held: false }), "NOT met");
  assertEquals(targetVerdict({ ...run, held: false, seconds: 600 }), "NOT met");
});

Deno.test("targetVerdict: falling short past the target decides nothing about it", () => {
  const past = targetVerdict({ ...run, hosts: 16_667, interval: 10, held: false });
  assertMatch(past, /^not decided/);
  assertMatch(past, /10\.0 times the target's rate/);
  assertMatch(targetVerdict({ ...run, hosts: 100_000, held: false }), /^not decided/);
});

Deno.test("targetVerdict: short runs, smaller fleets and silent hosts are not tested", () => {
  for (
    const r of [
      { ...run, seconds: 60 },
      { ...run, seconds: 60, held: false },
      { ...run, hosts: 5_000 },
      { ...run, hosts: 5_000, held: false },
      { ...run, interval: 120 },
      { ...run, silent: 100 },
      { ...run, silent: 100, held: false },
    ]
  ) {
    assertMatch(targetVerdict(r), /^not tested/, JSON.stringify(r));
  }
});
