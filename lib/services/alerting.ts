/**
 * Alert rules, device tags, problems and maintenance windows: validation beyond the schema
 * (a 400 that names the field), the transaction with its audit record, and a reload of the
 * running evaluator after every change.
 */
import type { Queryable } from "../db/driver.ts";
import {
  type AlertRule,
  alertRulesRepo,
  type AlertRuleWrite,
  deviceTagsRepo,
  maintenanceRepo,
  type MaintenanceWindow,
  type MaintenanceWrite,
  type Operator,
  type ScopeKind,
} from "../db/alert_rules.ts";
import { type Problem, type ProblemFilter, problemsRepo } from "../db/alert_problems.ts";
import { type Delivery, outboxRepo } from "../db/notifications.ts";
import { devicesRepo } from "../db/devices.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit } from "../audit.ts";
import { METRIC_NAMES, metricDefinition, thresholdProblem } from "../alerting/catalogue.ts";
import { type RuleParams, ruleParamsProblem } from "../alerting/depth_metrics.ts";
import { SEVERITIES, type Severity } from "../alerting/notification.ts";
import { found, invalid, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";

/** The running alerting part, told when its inputs changed (absent in an API-only process). */
export interface AlertingReload {
  reload(): Promise<unknown>;
}

export interface AlertingServiceDeps extends ServiceDeps {
  alerting: () => AlertingReload | undefined;
}

export interface Scope {
  kind: ScopeKind;
  tag?: string | null;
  device_id?: number | null;
}

export interface RuleBody {
  name: string;
  metric: string;
  operator: Operator;
  threshold?: number;
  recovery_threshold?: number | null;
  for_seconds?: number;
  severity: Severity;
  scope?: Scope;
  enabled?: boolean;
  /** metric parameters (lib/alerting/catalogue.ts RuleParams) */
  params?: RuleParams;
}

export interface RuleView extends Omit<AlertRule, "scope_kind" | "scope_tag" | "scope_device_id"> {
  scope: { kind: ScopeKind; tag: string | null; device_id: number | null };
}

export function ruleView(r: AlertRule): RuleView {
  const { scope_kind, scope_tag, scope_device_id, ...rest } = r;
  return { ...rest, scope: { kind: scope_kind, tag: scope_tag, device_id: scope_device_id } };
}

export const TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

async function reloaded(deps: AlertingServiceDeps): Promise<void> {
  await deps.alerting()?.reload();
}

export class AlertRulesService {
  constructor(private readonly deps: AlertingServiceDeps) {}

  async list(q: ListParams & { metric?: string; enabled?: boolean }): Promise<Page<RuleView>> {
    const page = await alertRulesRepo.list(this.deps.db, q, q);
    return { ...page, items: page.items.map(ruleView) };
  }

  async get(id: number): Promise<RuleView | undefined> {
    const r = await alertRulesRepo.get(this.deps.db, id);
    return r && ruleView(r);
  }

  async create(actor: Actor, body: RuleBody): Promise<RuleView> {
    const row = await change(this.deps, async (tx) => {
      const write = await toRuleWrite(tx, body);
      const row = await alertRulesRepo.create(tx, write);
      await audit(tx, actor, "create", "alert_rule", row.id, { ...body });
      return row;
    });
    await reloaded(this.deps);
    return ruleView(row);
  }

  /** A whole new definition; the rule's open problems resolve when its condition changed. */
  async update(actor: Actor, id: number, body: RuleBody): Promise<RuleView> {
    const row = await change(this.deps, async (tx) => {
      found(await alertRulesRepo.get(tx, id), "alert rule", id);
      const write = await toRuleWrite(tx, body);
      const row = found(await alertRulesRepo.update(tx, id, write), "alert rule", id);
      await problemsRepo.resolveRule(tx, id);
      await audit(tx, actor, "update", "alert_rule", id, { ...body });
      return row;
    });
    await reloaded(this.deps);
    return ruleView(row);
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await change(this.deps, async (tx) => {
      found(await alertRulesRepo.get(tx, id), "alert rule", id);
      await problemsRepo.resolveRule(tx, id);
      await alertRulesRepo.delete(tx, id);
      await audit(tx, actor, "delete", "alert_rule", id);
    });
    await reloaded(this.deps);
  }
}

async function toRuleWrite(db: Queryable, b: RuleBody): Promise<AlertRuleWrite> {
  const def = metricDefinition(b.metric);
  if (!def) throw invalid("metric", `unknown metric; one of ${METRIC_NAMES.join(", ")}`);
  const paramsProblem = ruleParamsProblem(def.name, b.params ?? {});
  if (paramsProblem) throw invalid(`params.${paramsProblem.field}`, paramsProblem.message);
  const threshold = b.threshold ?? (def.kind === "state" ? 1 : undefined);
  if (threshold === undefined) throw invalid("threshold", "is required for this metric");
  const bad = thresholdProblem(def.kind, threshold);
  if (bad) throw invalid("threshold", `${bad} (${def.name} is a ${def.kind})`);
  const recovery = b.recovery_threshold ?? null;
  if (recovery !== null) {
    const badRecovery = thresholdProblem(def.kind, recovery);
    if (badRecovery) throw invalid("recovery_threshold", badRecovery);
    const above = b.operator.startsWith(">");
    if (above ? recovery > threshold : recovery < threshold) {
      throw invalid(
        "recovery_threshold",
        `must be on the good side of the threshold (${above ? "≤" : "≥"} ${threshold})`,
      );
    }
  }
  const scope = b.scope;
  if (!scope) throw invalid("scope", "is required: all devices, a tag, or one device");
  let tag: string | null = null;
  let deviceId: number | null = null;
  if (scope.kind === "tag") {
    tag = scope.tag?.trim() ?? "";
    if (!TAG_PATTERN.test(tag)) throw invalid("scope.tag", "a tag scope needs a tag");
  } else if (scope.kind === "device") {
    deviceId = scope.device_id ?? null;
    if (!deviceId) throw invalid("scope.device_id", "a device scope needs a device");
    if (!await devicesRepo.get(db, deviceId)) {
      throw invalid("scope.device_id", `device ${deviceId} not found`);
    }
  }
  return {
    name: b.name.trim(),
    metric: def.name,
    operator: def.kind === "state" ? ">=" : b.operator,
    threshold,
    recovery_threshold: recovery,
    for_seconds: b.for_seconds ?? 0,
    severity: b.severity,
    scope_kind: scope.kind,
    scope_tag: tag,
    scope_device_id: deviceId,
    enabled: b.enabled ?? true,
    params: { ...(b.params ?? {}) },
  };
}

export class DeviceTagsService {
  constructor(private readonly deps: AlertingServiceDeps) {}

  async get(deviceId: number): Promise<string[]> {
    found(await devicesRepo.get(this.deps.db, deviceId), "device", deviceId);
    return await deviceTagsRepo.of(this.deps.db, deviceId);
  }

  async set(actor: Actor, deviceId: number, tags: string[]): Promise<string[]> {
    const clean = [...new Set(tags.map((t) => t.trim()))];
    clean.forEach((t, i) => {
      if (!TAG_PATTERN.test(t)) {
        throw invalid(`tags.${i}`, "1 to 64 letters, digits, '_', '.', ':' or '-'");
      }
    });
    const result = await change(this.deps, async (tx) => {
      found(await devicesRepo.get(tx, deviceId), "device", deviceId);
      await deviceTagsRepo.set(tx, deviceId, clean);
      await audit(tx, actor, "update", "device_tags", deviceId, { tags: clean });
      return await deviceTagsRepo.of(tx, deviceId);
    }, () => ({ entity: "device", id: deviceId, action: "updated" }));
    return result;
  }

  counts(): Promise<{ tag: string; devices: number }[]> {
    return deviceTagsRepo.counts(this.deps.db);
  }
}

export class ProblemsService {
  constructor(private readonly deps: AlertingServiceDeps) {}

  list(q: ListParams & ProblemFilter): Promise<Page<Problem>> {
    return problemsRepo.list(this.deps.db, q, q);
  }

  get(id: number): Promise<Problem | undefined> {
    return problemsRepo.get(this.deps.db, id);
  }

  async acknowledge(actor: Actor, id: number, comment: string | null): Promise<Problem> {
    return await change(this.deps, async (tx) => {
      const p = found(await problemsRepo.get(tx, id), "problem", id);
      if (p.state !== "open") {
        throw new ServiceError(409, "CONFLICT", `problem ${id} is resolved`, { id });
      }
      await problemsRepo.acknowledge(tx, id, actor.username ?? "system", comment);
      await audit(tx, actor, "acknowledge", "problem", id, { comment });
      return (await problemsRepo.get(tx, id))!;
    });
  }

  async deliveries(id: number): Promise<Delivery[]> {
    found(await problemsRepo.get(this.deps.db, id), "problem", id);
    return await outboxRepo.deliveriesOf(this.deps.db, id);
  }

  /** Open problems by severity (the overview's counts). */
  async overview(): Promise<
    {
      open: number;
      acknowledged: number;
      in_maintenance: number;
      by_severity: Record<Severity, number>;
    }
  > {
    const rows = await problemsRepo.counts(this.deps.db);
    const by = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
    let open = 0, acknowledged = 0, maintenance = 0;
    for (const r of rows) {
      by[r.severity] = r.open;
      open += r.open;
      acknowledged += r.acknowledged;
      maintenance += r.maintenance;
    }
    return { open, acknowledged, in_maintenance: maintenance, by_severity: by };
  }
}

export interface MaintenanceBody {
  name: string;
  scope?: Scope;
  kind: "once" | "weekly";
  starts_at?: string | null;
  ends_at?: string | null;
  weekdays?: number[] | null;
  start_minute?: number | null;
  duration_minutes?: number | null;
}

export function maintenanceView(w: MaintenanceWindow) {
  const { scope_kind, scope_tag, scope_device_id, ...rest } = w;
  return { ...rest, scope: { kind: scope_kind, tag: scope_tag, device_id: scope_device_id } };
}

export class MaintenanceService {
  constructor(private readonly deps: AlertingServiceDeps) {}

  async list(q: ListParams) {
    const page = await maintenanceRepo.list(this.deps.db, q);
    return { ...page, items: page.items.map(maintenanceView) };
  }

  async get(id: number) {
    const w = await maintenanceRepo.get(this.deps.db, id);
    return w && maintenanceView(w);
  }

  async create(actor: Actor, body: MaintenanceBody) {
    const row = await change(this.deps, async (tx) => {
      const row = await maintenanceRepo.create(tx, await toMaintenanceWrite(tx, body));
      await audit(tx, actor, "create", "maintenance_window", row.id, { ...body });
      return row;
    });
    await reloaded(this.deps);
    return maintenanceView(row);
  }

  async update(actor: Actor, id: number, body: MaintenanceBody) {
    const row = await change(this.deps, async (tx) => {
      const row = found(
        await maintenanceRepo.update(tx, id, await toMaintenanceWrite(tx, body)),
        "maintenance window",
        id,
      );
      await audit(tx, actor, "update", "maintenance_window", id, { ...body });
      return row;
    });
    await reloaded(this.deps);
    return maintenanceView(row);
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await change(this.deps, async (tx) => {
      if (!await maintenanceRepo.delete(tx, id)) throw found(undefined, "maintenance window", id);
      await audit(tx, actor, "delete", "maintenance_window", id);
    });
    await reloaded(this.deps);
  }
}

async function toMaintenanceWrite(db: Queryable, b: MaintenanceBody): Promise<MaintenanceWrite> {
  const scope = b.scope;
  if (!scope) throw invalid("scope", "is required: all devices, a tag, or one device");
  if (scope.kind === "tag" && !TAG_PATTERN.test(scope.tag ?? "")) {
    throw invalid("scope.tag", "a tag scope needs a tag");
  }
  if (scope.kind === "device") {
    if (!scope.device_id) throw invalid("scope.device_id", "a device scope needs a device");
    if (!await devicesRepo.get(db, scope.device_id)) {
      throw invalid("scope.device_id", `device ${scope.device_id} not found`);
    }
  }
  const base = {
    name: b.name.trim(),
    scope_kind: scope.kind,
    scope_tag: scope.kind === "tag" ? scope.tag!.trim() : null,
    scope_device_id: scope.kind === "device" ? scope.device_id! : null,
    kind: b.kind,
  };
  if (b.kind === "once") {
    const starts = b.starts_at ? new Date(b.starts_at) : null;
    const ends = b.ends_at ? new Date(b.ends_at) : null;
    if (!starts || isNaN(starts.getTime())) {
      throw invalid("starts_at", "a one-off window needs a start");
    }
    if (!ends || isNaN(ends.getTime())) throw invalid("ends_at", "a one-off window needs an end");
    if (ends <= starts) throw invalid("ends_at", "must be later than the start");
    return {
      ...base,
      starts_at: starts,
      ends_at: ends,
      weekdays: null,
      start_minute: null,
      duration_minutes: null,
    };
  }
  if (!b.weekdays?.length) throw invalid("weekdays", "a weekly window needs at least one day");
  if (b.start_minute == null) throw invalid("start_minute", "a weekly window needs a start");
  if (!b.duration_minutes) throw invalid("duration_minutes", "a weekly window needs a duration");
  return {
    ...base,
    starts_at: null,
    ends_at: null,
    weekdays: [...new Set(b.weekdays)].sort(),
    start_minute: b.start_minute,
    duration_minutes: b.duration_minutes,
  };
}
