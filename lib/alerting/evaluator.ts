/**
 * The alert evaluator: fed what the writer committed (samples and poll outcomes), the devices'
 * reachability and a timer, it keeps a small state per (rule, device, instance) series and
 * says when a problem opens or resolves. Pure and synchronous: no database, no clock but the
 * samples' own timestamps (and `now` for the timer); the ProblemRecorder makes transitions
 * durable. Rules are compiled once per change into per-device lists, so a sample costs one
 * map lookup plus the comparisons of the rules that apply to it.
 */
import type { MetricSample, PollOutcome } from "../messages.ts";
import { extract, type InstanceValue, metricDefinition } from "./catalogue.ts";
import type { AlertRule } from "../db/alert_rules.ts";
import type { PreviousSample } from "./depth_metrics.ts";

export interface DeviceInfo {
  id: number;
  tags: readonly string[];
  unreachable: boolean;
}

export interface MonitorInfo {
  id: number;
  deviceId: number;
  intervalS: number;
}

export interface Transition {
  type: "open" | "resolve";
  ruleId: number;
  deviceId: number;
  instance: string;
  value: number | null;
  /** epoch ms of the sample (or tick) that decided it */
  at: number;
}

export interface EvaluatorOptions {
  /** a resolved condition must hold this long (at least the rule's `for`) before it resolves */
  recoveryHoldMs: number;
  onTransition(t: Transition): void;
}

interface Compiled {
  rule: AlertRule;
  metric: string;
  test: (v: number) => boolean;
  recovered: (v: number) => boolean;
  forMs: number;
  holdMs: number;
  /** devices with a live (pending or open) series of this rule: the common case skips lookups */
  live: Map<number, number>;
}

interface Series {
  open: boolean;
  pendingSince: number | null;
  recoverSince: number | null;
}

/** Failures where the host did not answer: the unreachable rule's business, not a monitor's. */
const CONNECTIVITY = new Set(["timeout", "refused", "reset", "unreachable"]);
/** metrics judged on the change of interface counters since the previous sample */
const INTERFACE_RATES = new Set(["interface_errors_per_s", "interface_discards_per_s"]);

export class Evaluator {
  private rules: Compiled[] = [];
  private devices = new Map<number, DeviceInfo>();
  private monitors = new Map<number, MonitorInfo>();
  /** device id -> sample rules that apply to it (built lazily, dropped on any change) */
  private perDevice = new Map<number, { sample: Compiled[]; other: Compiled[] }>();
  private readonly series = new Map<string, Series>();
  private readonly previous = new Map<number, PreviousSample>();
  /**
   * Whether a rule judges interface counters' rates: only then does a monitor's previous
   * sample keep its interfaces. Kept for 60 s and more, every poll's interface list would
   * outlive the young generation and be collected with the old one.
   */
  private ratesOfInterfaces = false;
  private readonly services = new Map<number, NonNullable<MetricSample["services"]>>();
  private readonly failures = new Map<number, number>();
  /** monitor id -> epoch ms of its latest committed sample (no-data rules) */
  private readonly lastSample = new Map<number, number>();
  private readonly scratch: InstanceValue[] = [];
  readonly counters = { evaluations: 0, samples: 0, opened: 0, resolved: 0 };

  constructor(private readonly opts: EvaluatorOptions) {}

  setRules(rules: readonly AlertRule[]): void {
    this.rules = rules.filter((r) => r.enabled && metricDefinition(r.metric)).map((r) =>
      compile(r, this.opts.recoveryHoldMs)
    );
    this.ratesOfInterfaces = this.rules.some((c) => INTERFACE_RATES.has(c.metric));
    this.perDevice.clear();
    // A series whose rule is gone or disabled is forgotten (its problem was resolved by the service).
    const byId = new Map(this.rules.map((c) => [c.rule.id, c]));
    for (const key of this.series.keys()) {
      const [rule, device] = key.split(":", 2).map(Number);
      const c = byId.get(rule);
      if (c) c.live.set(device, (c.live.get(device) ?? 0) + 1);
      else this.series.delete(key);
    }
  }

  setDevices(devices: readonly DeviceInfo[]): void {
    this.devices = new Map(devices.map((d) => [d.id, d]));
    this.perDevice.clear();
  }

  isUnreachable(deviceId: number): boolean {
    return this.devices.get(deviceId)?.unreachable ?? false;
  }

  upsertDevice(device: DeviceInfo): void {
    this.devices.set(device.id, device);
    this.perDevice.delete(device.id);
  }

  setMonitors(monitors: readonly MonitorInfo[]): void {
    this.monitors = new Map(monitors.map((m) => [m.id, m]));
  }

  /** One monitor created, changed (`info`) or gone or disabled (undefined). */
  updateMonitor(id: number, info: MonitorInfo | undefined): void {
    if (info) this.monitors.set(id, info);
    else this.monitors.delete(id);
  }

  /** Problems open before a restart: their series are open, so nothing opens (or notifies) twice. */
  restoreOpen(open: readonly { ruleId: number; deviceId: number; instance: string }[]): void {
    for (const o of open) {
      const c = this.rules.find((c) => c.rule.id === o.ruleId);
      if (c && !this.series.has(key(o.ruleId, o.deviceId, o.instance))) {
        c.live.set(o.deviceId, (c.live.get(o.deviceId) ?? 0) + 1);
      }
      this.series.set(key(o.ruleId, o.deviceId, o.instance), {
        open: true,
        pendingSince: null,
        recoverSince: null,
      });
    }
  }

  /**
   * Another process opened or resolved a problem (several central processes each evaluate
   * what reaches them): this evaluator's series follows, so it neither resolves a problem it
   * thinks open nor misses opening one it thinks still open.
   */
  syncProblem(o: { ruleId: number; deviceId: number; instance: string }, open: boolean): void {
    if (open) return this.restoreOpen([o]);
    const k = key(o.ruleId, o.deviceId, o.instance);
    if (!this.series.get(k)?.open) return;
    const c = this.rules.find((c) => c.rule.id === o.ruleId);
    if (c) this.forget(c, k, o.deviceId);
    else this.series.delete(k);
  }

  /** What one commit held, in commit order. */
  committed(samples: readonly MetricSample[], outcomes: readonly PollOutcome[]): void {
    if (this.rules.length === 0) return;
    for (const s of samples) this.sample(s);
    for (const o of outcomes) this.outcome(o);
  }

  sample(s: MetricSample): void {
    const monitor = this.monitors.get(s.monitorId);
    if (!monitor) return;
    this.counters.samples++;
    const last = this.lastSample.get(s.monitorId) ?? 0;
    if (s.ts > last) this.lastSample.set(s.monitorId, s.ts);
    const applicable = this.applicable(monitor.deviceId);
    const device = this.devices.get(monitor.deviceId);
    // A poller sends the service list only when it changed (or every few minutes): rules
    // judge every poll against the latest list.
    if (s.services) this.services.set(s.monitorId, s.services);
    if (applicable.sample.length && !device?.unreachable) {
      const values = this.scratch;
      const previous = this.previous.get(s.monitorId);
      const known = this.services.get(s.monitorId);
      const judged = s.services || !known || s.bootTime === undefined
        ? s
        : { ...s, services: known };
      for (const c of applicable.sample) {
        values.length = 0;
        extract(c.metric, judged, previous, values, c.rule.params ?? {});
        for (const v of values) this.judge(c, monitor.deviceId, v.instance, v.value, s.ts);
      }
    }
    // Only the counters of the previous sample are needed for rates (and its boot time).
    const interfaces = this.ratesOfInterfaces ? s.interfaces : null;
    if (interfaces || s.bootTime !== undefined) {
      this.previous.set(s.monitorId, { ts: s.ts, interfaces, bootTime: s.bootTime });
    }
  }

  outcome(o: PollOutcome): void {
    const counted = !o.ok && !CONNECTIVITY.has(o.errorClass ?? "");
    const n = counted ? (this.failures.get(o.monitorId) ?? 0) + 1 : 0;
    if (n) this.failures.set(o.monitorId, n);
    else this.failures.delete(o.monitorId);
    if (o.ok) {
      const last = this.lastSample.get(o.monitorId) ?? 0;
      if (o.attemptedAt > last) this.lastSample.set(o.monitorId, o.attemptedAt);
    }
    const device = this.devices.get(o.deviceId);
    if (device?.unreachable) return;
    for (const c of this.applicable(o.deviceId).other) {
      if (c.metric === "monitor_failing") {
        this.judge(c, o.deviceId, `monitor ${o.monitorId}`, n, o.attemptedAt);
      }
    }
  }

  /** The health monitor marked a device unreachable, or it recovered. */
  deviceReachability(deviceId: number, unreachable: boolean, at: number): void {
    const device = this.devices.get(deviceId);
    if (device) this.devices.set(deviceId, { ...device, unreachable });
    for (const c of this.applicable(deviceId).other) {
      if (c.metric === "device_unreachable") this.judge(c, deviceId, "", unreachable ? 1 : 0, at);
    }
    if (!unreachable) return;
    // One cause, one problem: pending per-metric conditions of a dark host are dropped.
    for (const [k, s] of this.series) {
      if (s.open || k.split(":")[1] !== String(deviceId)) continue;
      const c = this.rules.find((r) => r.rule.id === Number(k.split(":")[0]));
      if (c) this.forget(c, k, deviceId);
      else this.series.delete(k);
    }
  }

  /** No-data rules, and `for` durations that run out without a new sample. */
  tick(now: number): void {
    for (const c of this.rules) {
      if (c.metric !== "no_data") continue;
      for (const m of this.monitors.values()) {
        const device = this.devices.get(m.deviceId);
        if (!device || device.unreachable || !applies(c.rule, device)) continue;
        const last = this.lastSample.get(m.id);
        // Not heard of since start: the clock starts now.
        if (last === undefined) {
          this.lastSample.set(m.id, now);
          continue;
        }
        const intervals = Math.floor((now - last) / (m.intervalS * 1000));
        this.judge(c, m.deviceId, `monitor ${m.id}`, intervals, now);
      }
    }
  }

  /** Open series, for tests and /metrics. */
  openSeries(): number {
    let n = 0;
    for (const s of this.series.values()) if (s.open) n++;
    return n;
  }

  /** Drops a series; the device leaves the rule's live set when it has no other. */
  private forget(c: Compiled, k: string, deviceId: number): void {
    if (!this.series.delete(k)) return;
    const n = (c.live.get(deviceId) ?? 1) - 1;
    if (n > 0) c.live.set(deviceId, n);
    else c.live.delete(deviceId);
  }

  private applicable(deviceId: number) {
    let entry = this.perDevice.get(deviceId);
    if (!entry) {
      const device = this.devices.get(deviceId) ?? { id: deviceId, tags: [], unreachable: false };
      const rules = this.rules.filter((c) => applies(c.rule, device));
      entry = {
        sample: rules.filter((c) => metricDefinition(c.metric)!.source === "sample"),
        other: rules.filter((c) => metricDefinition(c.metric)!.source !== "sample"),
      };
      this.perDevice.set(deviceId, entry);
    }
    return entry;
  }

  private judge(c: Compiled, deviceId: number, instance: string, value: number, at: number) {
    this.counters.evaluations++;
    const firing = c.test(value);
    // Nothing pending or open for this rule on this device and the condition is false: done.
    if (!firing && !c.live.has(deviceId)) return;
    const k = key(c.rule.id, deviceId, instance);
    let s = this.series.get(k);
    if (!s?.open) {
      if (!firing) {
        if (s) this.forget(c, k, deviceId);
        return;
      }
      if (!s) {
        this.series.set(k, s = { open: false, pendingSince: at, recoverSince: null });
        c.live.set(deviceId, (c.live.get(deviceId) ?? 0) + 1);
      }
      if (at - s.pendingSince! < c.forMs) return;
      s.open = true;
      s.pendingSince = null;
      this.counters.opened++;
      this.opts.onTransition({ type: "open", ruleId: c.rule.id, deviceId, instance, value, at });
      return;
    }
    if (!c.recovered(value)) {
      s.recoverSince = null;
      return;
    }
    s.recoverSince ??= at;
    if (at - s.recoverSince < c.holdMs) return;
    this.forget(c, k, deviceId);
    this.counters.resolved++;
    this.opts.onTransition({ type: "resolve", ruleId: c.rule.id, deviceId, instance, value, at });
  }
}

function key(ruleId: number, deviceId: number, instance: string): string {
  return `${ruleId}:${deviceId}:${instance}`;
}

export function applies(rule: AlertRule, device: DeviceInfo): boolean {
  switch (rule.scope_kind) {
    case "all":
      return true;
    case "device":
      return rule.scope_device_id === device.id;
    case "tag":
      return device.tags.includes(rule.scope_tag ?? "");
  }
}

const COMPARE = {
  ">": (a: number, b: number) => a > b,
  ">=": (a: number, b: number) => a >= b,
  "<": (a: number, b: number) => a < b,
  "<=": (a: number, b: number) => a <= b,
} as const;

function compile(rule: AlertRule, recoveryHoldMs: number): Compiled {
  const cmp = COMPARE[rule.operator];
  const t = rule.threshold;
  const r = rule.recovery_threshold;
  const state = metricDefinition(rule.metric)!.kind === "state";
  const forMs = rule.for_seconds * 1000;
  return {
    rule,
    metric: rule.metric,
    test: (v) => cmp(v, t),
    // Hysteresis: with a recovery threshold, the problem resolves only once the value is back
    // on the good side of it (e.g. "> 90, recovers at 80": resolves at ≤ 80).
    recovered: r == null ? (v) => !cmp(v, t) : (v) => !cmp(v, r),
    forMs,
    // A state (unreachable) resolves when it ends; a metric must stay good for a while.
    holdMs: state ? 0 : Math.max(forMs, recoveryHoldMs),
    live: new Map(),
  };
}
