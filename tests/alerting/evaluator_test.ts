/**
 * The evaluator alone (no database): `for` durations by sample time, hysteresis against a
 * wobbling value, scopes, per-interface rates, "monitor failing" counting only failures where
 * the host answered, and "no data" from the timer.
 */
import { assertEquals } from "../helpers/assert.ts";
import { Evaluator, type Transition } from "../../lib/alerting/evaluator.ts";
import type { AlertRule } from "../../lib/db/alert_rules.ts";
import type { PollOutcome } from "../../lib/messages.ts";
import { sample } from "./helpers.ts";

let nextId = 1;
function rule(over: Partial<AlertRule>): AlertRule {
  return {
    id: nextId++,
    name: "r",
    metric: "cpu_percent",
    operator: ">",
    threshold: 90,
    recovery_threshold: null,
    for_seconds: 0,
    severity: "warning",
    scope_kind: "all",
    scope_tag: null,
    scope_device_id: null,
    params: {},
    enabled: true,
    created_at: new Date(),
    updated_at: new Date(),
    ...over,
  };
}

function setup(rules: AlertRule[], recoveryHoldMs = 0) {
  const seen: Transition[] = [];
  const e = new Evaluator({ recoveryHoldMs, onTransition: (t) => seen.push(t) });
  e.setDevices([{ id: 1, tags: ["prod"], unreachable: false }, {
    id: 2,
    tags: [],
    unreachable: false,
  }]);
  e.setMonitors([{ id: 11, deviceId: 1, intervalS: 60 }, { id: 12, deviceId: 2, intervalS: 60 }]);
  e.setRules(rules);
  return { e, seen, kinds: () => seen.map((t) => `${t.type}:${t.deviceId}:${t.instance}`) };
}

Deno.test("evaluator: `for` counts sample time; hysteresis keeps a wobbling value open", () => {
  const r = rule({ for_seconds: 120, recovery_threshold: 80 });
  const { e, kinds } = setup([r]);
  const t = 1_000_000;
  e.sample(sample(11, t, { cpu: 95 }));
  e.sample(sample(11, t + 60_000, { cpu: 95 }));
  assertEquals(kinds(), []);
  e.sample(sample(11, t + 120_000, { cpu: 95 }));
  assertEquals(kinds(), ["open:1:"]);
  // 89, 91, 85, 92…: below the threshold but above the recovery one: no flapping.
  for (const [i, cpu] of [89, 91, 85, 92, 88].entries()) {
    e.sample(sample(11, t + 180_000 + i * 60_000, { cpu }));
  }
  assertEquals(kinds(), ["open:1:"]);
  // Back at 70 it must stay good for the rule's duration before it resolves.
  e.sample(sample(11, t + 600_000, { cpu: 70 }));
  e.sample(sample(11, t + 660_000, { cpu: 75 }));
  assertEquals(kinds(), ["open:1:"]);
  e.sample(sample(11, t + 720_000, { cpu: 70 }));
  assertEquals(kinds(), ["open:1:", "resolve:1:"]);
});

Deno.test("evaluator: scopes, one problem per volume, interface rates", () => {
  const tagged = rule({ metric: "volume_used_percent", scope_kind: "tag", scope_tag: "prod" });
  const errors = rule({ metric: "interface_errors_per_s", threshold: 5 });
  const { e, kinds } = setup([tagged, errors]);
  const t = 2_000_000;
  e.sample(sample(11, t, { volumes: { "C:": 95, "D:": 96, "E:": 10 } }));
  e.sample(sample(12, t, { volumes: { "C:": 99 } })); // device 2 has no tag "prod"
  assertEquals(kinds(), ["open:1:C:", "open:1:D:"]);
  const nic = (ts: number, errs: number) => ({
    ...sample(11, ts),
    interfaces: [{
      name: "Ethernet",
      sentBps: 0,
      recvBps: 0,
      packetsSent: 0,
      packetsRecv: 0,
      errors: errs,
      discards: 0,
      bandwidthBps: null,
      utilization: null,
    }],
  });
  e.sample(nic(t + 60_000, 100));
  e.sample(nic(t + 120_000, 160)); // 1 error/s
  const opens = () => kinds().filter((k) => k.startsWith("open"));
  assertEquals(opens().length, 2);
  e.sample(nic(t + 180_000, 760)); // 10 errors/s
  assertEquals(opens().at(-1), "open:1:Ethernet");
});

Deno.test("evaluator: monitor failing counts answered failures; no data from the timer", () => {
  const failing = rule({ metric: "monitor_failing", operator: ">=", threshold: 3 });
  const silent = rule({ metric: "no_data", operator: ">=", threshold: 3 });
  const { e, kinds } = setup([failing, silent]);
  const t = 3_000_000;
  const fail = (cls: string, i: number): PollOutcome => ({
    monitorId: 11,
    deviceId: 1,
    ok: false,
    attempts: 1,
    attemptedAt: t + i,
    dueAt: t + i,
    durationMs: 1,
    errorClass: cls,
  });
  e.committed([sample(11, t), sample(12, t)], [fail("timeout", 1), fail("refused", 2)]);
  e.committed([], [fail("auth", 3), fail("auth", 4)]);
  assertEquals(kinds(), []);
  e.committed([], [fail("fault", 5)]);
  assertEquals(kinds(), ["open:1:monitor 11"]);
  // Monitor 12 (device 2) last sampled at t; 3 intervals later it has no data.
  e.tick(t + 179_000);
  assertEquals(kinds().length, 1);
  e.tick(t + 181_000);
  assertEquals(kinds().includes("open:2:monitor 12"), true);
});
