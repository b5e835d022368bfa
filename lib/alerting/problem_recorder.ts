/**
 * Makes the evaluator's transitions durable and turns them into notifications: a problem
 * opens (or resolves) in the same transaction that queues its notifications in the outbox,
 * so after a restart nothing is lost and nothing is sent twice. Transitions are applied one
 * at a time, off the writer's path. The same place sends held and repeat notifications on a
 * timer: a problem opened in maintenance notifies once the window is over, an unacknowledged
 * one repeats at its policy's interval.
 */
import { getLogger } from "@logtape/logtape";
import type { Database, Queryable } from "../db/driver.ts";
import { type AlertRule, deviceTagsRepo, type MaintenanceWindow } from "../db/alert_rules.ts";
import { type Problem, problemsRepo } from "../db/alert_problems.ts";
import { outboxRepo, type Policy } from "../db/notifications.ts";
import { devicesRepo } from "../db/devices.ts";
import type { Transition } from "./evaluator.ts";
import { inMaintenance } from "./maintenance.ts";
import { metricDefinition } from "./catalogue.ts";
import { type Notification, type NotificationKind, SEVERITIES } from "./notification.ts";

const log = getLogger(["nmslite", "alerting"]);

export interface AlertingConfig {
  rules: Map<number, AlertRule>;
  windows: MaintenanceWindow[];
  policies: Policy[];
}

export class ProblemRecorder {
  private chain: Promise<void> = Promise.resolve();
  private pending = 0;
  readonly counters = { opened: 0, resolved: 0, notifications: 0 };
  /** told of every problem this process opened or resolved, once it is committed */
  onRecorded?: (t: Transition) => void;

  constructor(
    private readonly db: Database,
    private readonly config: () => AlertingConfig,
    private readonly queued: () => void,
    private readonly baseUrl = "",
  ) {}

  /** Queues the transition; never throws into the evaluator. */
  apply(t: Transition): void {
    this.pending++;
    this.chain = this.chain.then(() => this.record(t)).catch((err) =>
      log.error("cannot record {type} of rule {rule} on device {device}: {message}", {
        type: t.type,
        rule: t.ruleId,
        device: t.deviceId,
        message: (err as Error).message,
      })
    ).finally(() => this.pending--);
  }

  /** Resolves once every queued transition is recorded. */
  async settle(): Promise<void> {
    while (this.pending) await this.chain;
  }

  private async record(t: Transition): Promise<void> {
    const cfg = this.config();
    const rule = cfg.rules.get(t.ruleId);
    if (!rule) return;
    const at = new Date(t.at);
    let recorded = false;
    const queued = await this.db.transaction(async (tx) => {
      if (t.type === "open") {
        const tags = (await deviceTagsRepo.deviceState(tx, t.deviceId))?.tags ?? [];
        const maint = inMaintenance(cfg.windows, { id: t.deviceId, tags }, Date.now());
        const id = await problemsRepo.open(tx, {
          rule_id: rule.id,
          rule_name: rule.name,
          device_id: t.deviceId,
          instance: t.instance,
          severity: rule.severity,
          opened_at: at,
          open_value: t.value,
          threshold: rule.threshold,
          summary: summaryOf(rule, t.instance, t.value),
          in_maintenance: maint,
        });
        if (id === undefined) return 0;
        recorded = true;
        this.counters.opened++;
        if (maint) return 0;
        return await this.notify(tx, id, "firing", cfg);
      }
      const id = await problemsRepo.resolve(tx, t, at, t.value);
      if (id === undefined) return 0;
      recorded = true;
      this.counters.resolved++;
      return await this.notify(tx, id, "resolved", cfg);
    });
    if (queued) this.queued();
    if (recorded) this.onRecorded?.(t);
  }

  /**
   * Queues one notification of a problem for every channel its policies choose; a resolved
   * one only when a firing one went out before and the policy wants it. Returns rows queued.
   */
  async notify(
    tx: Queryable,
    problemId: number,
    kind: NotificationKind,
    cfg: AlertingConfig,
  ): Promise<number> {
    const p = await problemsRepo.get(tx, problemId);
    if (!p) return 0;
    if (kind === "resolved" && !p.notified_at) return 0;
    const tags = (await deviceTagsRepo.deviceState(tx, p.device_id))?.tags ?? [];
    const channels = new Set(
      matchingPolicies(cfg.policies, p, tags)
        .filter((x) => kind !== "resolved" || x.send_resolved)
        .map((x) => x.channel_id),
    );
    const sequence = await problemsRepo.nextSequence(tx, p.id, kind === "firing");
    if (!channels.size) return 0;
    const device = await devicesRepo.get(tx, p.device_id);
    const rule = cfg.rules.get(p.rule_id ?? 0);
    const n: Notification = {
      idempotencyKey: `nmslite-problem-${p.id}-${sequence}`,
      kind,
      problemId: p.id,
      sequence,
      severity: p.severity,
      ruleId: p.rule_id ?? 0,
      ruleName: p.rule_name,
      deviceId: p.device_id,
      deviceName: device?.hostname ?? device?.ip ?? String(p.device_id),
      deviceIp: device?.ip ?? "",
      instance: p.instance,
      tags,
      summary: kind === "resolved"
        ? `resolved: ${rule ? summaryOf(rule, p.instance, p.resolve_value) : p.summary}`
        : p.summary,
      value: kind === "resolved" ? p.resolve_value : p.open_value,
      threshold: p.threshold,
      openedAt: new Date(p.opened_at).toISOString(),
      resolvedAt: p.resolved_at ? new Date(p.resolved_at).toISOString() : null,
      acknowledged: p.acknowledged,
      inMaintenance: p.in_maintenance,
      url: `${this.baseUrl}/problems/${p.id}`,
    };
    for (const channel of channels) await outboxRepo.enqueue(tx, channel, n);
    this.counters.notifications += channels.size;
    return channels.size;
  }

  /** Held (maintenance over) and repeat notifications of open, unacknowledged problems. */
  async repeatDue(now = Date.now()): Promise<number> {
    const cfg = this.config();
    let queued = 0;
    for (const p of await problemsRepo.openForNotify(this.db)) {
      const tags = p.tags;
      const maint = inMaintenance(cfg.windows, { id: p.device_id, tags }, now);
      if (maint !== p.in_maintenance) await problemsRepo.setMaintenance(this.db, p.id, maint);
      if (maint) continue;
      const policies = matchingPolicies(cfg.policies, p, tags);
      const repeats = policies.map((x) => x.repeat_interval_s).filter((s): s is number => !!s);
      const due = !p.notified_at ||
        (repeats.length > 0 &&
          now - new Date(p.notified_at).getTime() >= Math.min(...repeats) * 1000);
      if (!due || !policies.length) continue;
      queued += await this.db.transaction(async (tx) =>
        await problemsRepo.claimNotify(tx, p.id, p.notified_at)
          ? await this.notify(tx, p.id, "firing", cfg)
          : 0
      );
    }
    if (queued) this.queued();
    return queued;
  }
}

export function matchingPolicies(
  policies: readonly Policy[],
  p: Pick<Problem, "severity">,
  tags: readonly string[],
): Policy[] {
  const rank = SEVERITIES.indexOf(p.severity);
  return policies.filter((x) =>
    x.enabled && SEVERITIES.indexOf(x.min_severity) <= rank && (!x.tag || tags.includes(x.tag))
  );
}

export function summaryOf(rule: AlertRule, instance: string, value: number | null): string {
  const def = metricDefinition(rule.metric);
  const where = instance ? `${instance} ` : "";
  if (!def || def.kind === "state") return `${where}${rule.name}`.trim();
  const unit = def.unit === "%" ? " %" : def.unit ? ` ${def.unit}` : "";
  const v = value == null ? "?" : String(Math.round(value * 10) / 10);
  return `${where}${def.label} ${v}${unit} ${rule.operator} ${rule.threshold}${unit}`;
}
