/** Rules on services, processes, reboots and the event log, through the real evaluator. */
import { assertEquals } from "../helpers/assert.ts";
import { depthSample } from "../helpers/depth_sample.ts";
import { Evaluator, type Transition } from "../../lib/alerting/evaluator.ts";
import { ruleParamsProblem } from "../../lib/alerting/depth_metrics.ts";
import type { AlertRule } from "../../lib/db/alert_rules.ts";
import type { MetricSample } from "../../lib/messages.ts";

const T0 = Date.UTC(2026, 10, 28, 8, 0, 0);
const MIN = 60_000;

function rule(id: number, metric: string, over: Partial<AlertRule> = {}): AlertRule {
  return {
    id,
    name: metric,
    metric,
    operator: ">=",
    threshold: 1,
    recovery_threshold: null,
    for_seconds: 0,
    severity: "high",
    scope_kind: "all",
    scope_tag: null,
    scope_device_id: null,
    enabled: true,
    params: {},
    created_at: new Date(T0),
    updated_at: new Date(T0),
    ...over,
  };
}

function evaluator(rules: AlertRule[]) {
  const seen: Transition[] = [];
  const e = new Evaluator({ recoveryHoldMs: 0, onTransition: (t) => seen.push(t) });
  e.setRules(rules);
  e.setDevices([{ id: 10, tags: [], unreachable: false }]);
  e.setMonitors([{ id: 1, deviceId: 10, intervalS: 60 }]);
  const poll = (i: number, over: Partial<MetricSample> = {}) =>
    e.sample(depthSample(1, T0 + i * MIN, { bootTime: T0 - 3_600_000, ...over }));
  const opened = () =>
    seen.filter((t) => t.type === "open").map((t) => `${t.ruleId}:${t.instance}`);
  const resolved = () =>
    seen.filter((t) => t.type === "resolve").map((t) => `${t.ruleId}:${t.instance}`);
  return { poll, opened, resolved };
}

const svc = (name: string, state: string, startMode = "Auto") => ({
  name,
  displayName: name,
  state,
  startMode,
});

Deno.test("automatic service not running: include/exclude lists, held for its duration", () => {
  const { poll, opened, resolved } = evaluator([
    rule(1, "service_not_running", { for_seconds: 120, params: { exclude: ["wu*", "Spooler"] } }),
    rule(2, "service_not_running", { params: { include: ["MSSQL*"] } }),
  ]);
  const down = [
    svc("wuauserv", "Stopped"),
    svc("Spooler", "Stopped"),
    svc("MSSQLSERVER", "Stopped"),
    svc("Fax", "Stopped", "Disabled"),
  ];
  poll(0, { services: down });
  assertEquals(opened(), ["2:MSSQLSERVER"], "the include-list rule opens at once");
  poll(1, { services: undefined }); // no list in this sample: the last one is judged again
  assertEquals(opened(), ["2:MSSQLSERVER"]);
  poll(2, { services: undefined });
  assertEquals(
    opened(),
    ["2:MSSQLSERVER", "1:MSSQLSERVER"],
    "after 120 s; wuauserv, Spooler never",
  );
  poll(3, { services: [svc("MSSQLSERVER", "Running")] });
  assertEquals(resolved().sort(), ["1:MSSQLSERVER", "2:MSSQLSERVER"]);
});

Deno.test("process rules: a named process not running; above a CPU share for a duration", () => {
  const { poll, opened, resolved } = evaluator([
    rule(1, "process_not_running", { params: { process: "sqlservr" } }),
    rule(2, "process_cpu_percent", {
      operator: ">",
      threshold: 30,
      for_seconds: 120,
      params: { process: "sqlservr" },
    }),
  ]);
  poll(0, { processNames: ["sqlservr", "w3wp"] }); // 35.5 % from depthSample
  poll(1, { processNames: ["sqlservr", "w3wp"] });
  assertEquals(opened(), []);
  poll(2, { processNames: ["sqlservr", "w3wp"] });
  assertEquals(opened(), ["2:sqlservr"]);
  poll(3, { processNames: ["w3wp"], processes: [] });
  assertEquals(opened(), ["2:sqlservr", "1:sqlservr"]);
  poll(4, { processNames: ["sqlservr"], processes: [] });
  assertEquals(
    resolved(),
    ["1:sqlservr"],
    "running again; its CPU (out of the top list) still held",
  );
});

Deno.test("reboot detected, and event log counts per source and per event id", () => {
  const { poll, opened, resolved } = evaluator([
    rule(1, "reboot_detected"),
    rule(2, "event_log_count", {
      operator: ">=",
      threshold: 1,
      params: { source: "Service Control Manager", event_id: 7034 },
    }),
    rule(3, "event_log_count", { operator: ">", threshold: 5 }),
  ]);
  poll(0);
  poll(1, { bootTime: T0 - 3_600_000 + 1_000 }); // wobble, not a reboot
  assertEquals(opened(), ["2:Service Control Manager"]);
  poll(2, { bootTime: T0 + 90_000, events: [] });
  assertEquals(opened(), ["2:Service Control Manager", "1:"]);
  assertEquals(resolved(), ["2:Service Control Manager"]);
  const flood = Array.from({ length: 6 }, (_, i) => ({
    log: "Application",
    record: 100 + i,
    ts: T0 + 3 * MIN - i,
    source: "Application Error",
    eventId: 1000,
    level: "error" as const,
    message: "",
  }));
  poll(3, { bootTime: T0 + 90_000, events: flood });
  assertEquals(opened().slice(2), ["3:"]);
  assertEquals(resolved().includes("1:"), true, "the reboot problem resolves at the next poll");
});

Deno.test("rule parameters are checked per metric", () => {
  assertEquals(ruleParamsProblem("process_not_running", {}), {
    field: "process",
    message: "the process to watch is required",
  });
  assertEquals(ruleParamsProblem("cpu_percent", { process: "x" })?.field, "process");
  assertEquals(ruleParamsProblem("event_log_count", { event_id: 70000 })?.field, "event_id");
  assertEquals(ruleParamsProblem("service_not_running", { exclude: ["wuauserv"] }), null);
});
