import { assert, assertEquals, assertMatch, assertThrows } from "../helpers/assert.ts";
import { FailureWindow, type FailureWindowOptions } from "../../lib/health/failure_window.ts";

const T0 = Date.UTC(2026, 0, 1);
const WINDOW = 300_000;

function failureWindow(options: Partial<FailureWindowOptions> = {}) {
  const clock = { now: T0 };
  const health = new FailureWindow({
    windowMs: WINDOW,
    threshold: 5,
    reactivateAfterMs: 600_000,
    now: () => clock.now,
    ...options,
  });
  return { clock, health };
}

Deno.test("failure window: failures inside the window add up to a deactivation", () => {
  const { clock, health } = failureWindow();
  for (let i = 1; i <= 4; i++) {
    assertEquals(health.recordFailure(7, "timeout"), { action: "count", failures: i });
    clock.now += 60_000;
  }
  const decision = health.recordFailure(7, "WinRM 401 Unauthorized");
  assertEquals(decision.action, "deactivate");
  assert(decision.action === "deactivate");
  assertEquals(decision.failures, 5);
  assertEquals(
    decision.reason,
    "5 failed polls within 300 s windows; last error: WinRM 401 Unauthorized",
  );
  assert(health.isDeactivated(7));
  assertEquals(
    health.recordFailure(7, "late poll"),
    { action: "ignore" },
    "no second deactivation",
  );
  assertEquals(health.failures(8), 0, "other devices are untouched");
});

Deno.test("failure window: a failure delivered again, or an older one, counts once", () => {
  const { clock, health } = failureWindow({ threshold: 3 });
  assertEquals(health.recordFailure(1, "e"), { action: "count", failures: 1 });
  assertEquals(health.recordFailure(1, "e"), { action: "ignore" }, "the same failure again");
  assertEquals(health.recordFailure(1, "e", T0 - 1), { action: "ignore" }, "an older one");
  clock.now += 1;
  assertEquals(health.recordFailure(1, "e"), { action: "count", failures: 2 });
  assertEquals(health.failures(1), 2);
});

Deno.test("failure window: a gap of exactly one window starts the count over", () => {
  const { clock, health } = failureWindow();
  health.recordFailure(1, "e");
  clock.now += WINDOW - 1;
  assertEquals(health.recordFailure(1, "e"), { action: "count", failures: 2 }, "1 ms inside");
  clock.now += WINDOW;
  assertEquals(health.recordFailure(1, "e"), { action: "count", failures: 1 }, "exactly at");
  clock.now += WINDOW + 1;
  assertEquals(health.recordFailure(1, "e"), { action: "count", failures: 1 }, "after");
});

Deno.test("failure window: the window slides from the last failure, not the first", () => {
  const { clock, health } = failureWindow({ threshold: 3 });
  health.recordFailure(1, "e");
  clock.now += WINDOW - 1_000;
  health.recordFailure(1, "e");
  clock.now += WINDOW - 1_000; // the first failure is now ~2 windows back
  assertEquals(health.recordFailure(1, "e").action, "deactivate");
});

Deno.test("failure window: a quiet window resets a long run of sparse failures", () => {
  const { clock, health } = failureWindow();
  for (let i = 0; i < 20; i++) {
    assertEquals(health.recordFailure(3, "e"), { action: "count", failures: 1 });
    clock.now += WINDOW + 1;
  }
  assertEquals(health.isDeactivated(3), false);
});

Deno.test("failure window: a success resets the count", () => {
  const { clock, health } = failureWindow({ threshold: 3 });
  health.recordFailure(2, "e");
  clock.now += 1;
  health.recordFailure(2, "e");
  assertEquals(health.failures(2), 2);
  health.recordSuccess(2);
  assertEquals(health.failures(2), 0);
  clock.now += 1_000;
  assertEquals(health.recordFailure(2, "e"), { action: "count", failures: 1 });
  health.recordSuccess(99); // unknown device: nothing to do
  assertEquals(health.failures(99), 0);
});

Deno.test("failure window: threshold 1 deactivates on the first failure", () => {
  const { health } = failureWindow({ threshold: 1 });
  const decision = health.recordFailure(4, "connection refused");
  assert(decision.action === "deactivate", `got ${decision.action}`);
  assertEquals(
    decision.reason,
    "1 failed poll within 300 s windows; last error: connection refused",
  );
});

Deno.test("failure window: a long error is cut short in the reason", () => {
  const { health } = failureWindow({ threshold: 1 });
  const decision = health.recordFailure(4, "x".repeat(5_000));
  assert(decision.action === "deactivate");
  assert(decision.reason.length < 300, `reason is ${decision.reason.length} chars`);
  assertMatch(decision.reason, /last error: x+…$/);
});

Deno.test("failure window: a deactivated device becomes due for a probe after the rest", () => {
  const { clock, health } = failureWindow({ threshold: 1, reactivateAfterMs: 600_000 });
  health.recordFailure(1, "e");
  clock.now += 1_000;
  health.recordFailure(2, "e");
  assertEquals(health.probeDueAt(1), T0 + 600_000);
  assertEquals(health.probesDue(), []);
  clock.now = T0 + 600_000 - 1;
  assertEquals(health.probesDue(), [], "1 ms early");
  clock.now = T0 + 600_000;
  assertEquals(health.probesDue(), [1], "exactly at");
  clock.now = T0 + 601_000;
  assertEquals(health.probesDue(), [1, 2], "earliest first");

  health.probeFailed(1); // still down: rests again
  assertEquals(health.probeDueAt(1), clock.now + 600_000);
  assertEquals(health.probesDue(), [2]);
  health.reactivated(2); // answered: clean slate, counting from zero
  assertEquals(health.isDeactivated(2), false);
  assertEquals(health.probeDueAt(2), undefined);
  assertEquals(health.recordFailure(2, "e").action, "deactivate", "threshold 1 again");
});

Deno.test("failure window: success does not reactivate; devices inactive at start get probes", () => {
  const { clock, health } = failureWindow({ threshold: 1, reactivateAfterMs: 1_000 });
  health.recordFailure(1, "e");
  health.recordSuccess(1); // a late in-flight success is no reachability proof by itself
  assert(health.isDeactivated(1));

  health.markDeactivated(5);
  assert(health.isDeactivated(5));
  assertEquals(health.probeDueAt(5), T0 + 1_000);
  health.markDeactivated(5, T0 + 500); // already inactive: keeps its probe time
  assertEquals(health.probeDueAt(5), T0 + 1_000);
  clock.now += 1_000;
  assertEquals(health.probesDue(), [1, 5]);
  health.forget(5);
  assertEquals(health.probesDue(), [1]);
  health.probeFailed(42); // unknown device: ignored
  assertEquals(health.probeDueAt(42), undefined);
});

Deno.test("failure window: options are validated", () => {
  const base = { windowMs: 1, threshold: 1, reactivateAfterMs: 0 };
  assertThrows(() => new FailureWindow({ ...base, windowMs: 0 }), RangeError);
  assertThrows(() => new FailureWindow({ ...base, threshold: 0 }), RangeError);
  assertThrows(() => new FailureWindow({ ...base, threshold: 2.5 }), RangeError);
  assertThrows(() => new FailureWindow({ ...base, reactivateAfterMs: -1 }), RangeError);
  new FailureWindow(base);
});
