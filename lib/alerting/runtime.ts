/**
 * Alerting as one running part: the evaluator fed by the writer's commits and the health
 * monitor's reachability changes, the recorder that makes problems durable, the timer for
 * "no data" rules and for held / repeat notifications, and the outbox delivery loop. Rules,
 * windows, policies, tags and monitors are read once and re-read when they change.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type { MetricSample, PollOutcome } from "../messages.ts";
import type { EntityEvents } from "../entity_events.ts";
import { alertRulesRepo, deviceTagsRepo, maintenanceRepo } from "../db/alert_rules.ts";
import { problemsRepo } from "../db/alert_problems.ts";
import { channelsRepo, outboxRepo, policiesRepo } from "../db/notifications.ts";
import { Evaluator } from "./evaluator.ts";
import { type AlertingConfig, ProblemRecorder } from "./problem_recorder.ts";
import { DEFAULT_OUTBOX_OPTIONS, OutboxDelivery, type OutboxOptions } from "./outbox.ts";
import type { ChannelSender, ChannelType } from "./notification.ts";
import type { Notifier } from "../db/notify.ts";
import { IdBatches } from "../id_batches.ts";

const log = getLogger(["nmslite", "alerting"]);
const PROBLEM_CHANNEL = "nmslite_problem";

/** A channel as its sender needs it: settings and the unsealed secrets. */
export interface ChannelConfig {
  id: number;
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

export type SenderFactory = (config: ChannelConfig) => ChannelSender;

export interface AlertingOptions {
  /** how often no-data rules and held / repeat notifications are checked */
  tickMs: number;
  /** a recovered metric must stay good this long before its problem resolves (flapping guard) */
  recoveryHoldMs: number;
  outbox: OutboxOptions;
  /** metrics.retention_days: resolved problems are kept as long */
  retentionDays: number;
  /** the dashboard's public URL, for links in notifications ("" for relative links) */
  baseUrl?: string;
}

export const DEFAULT_ALERTING_OPTIONS: AlertingOptions = {
  tickMs: 15_000,
  recoveryHoldMs: 60_000,
  outbox: DEFAULT_OUTBOX_OPTIONS,
  retentionDays: 90,
};

export interface AlertingDeps {
  db: Database;
  keyring: Keyring;
  events: EntityEvents;
  senders: SenderFactory;
}

export class AlertingRuntime {
  readonly evaluator: Evaluator;
  readonly recorder: ProblemRecorder;
  readonly outbox: OutboxDelivery;
  private config: AlertingConfig = { rules: new Map(), windows: [], policies: [] };
  private readonly senderCache = new Map<number, { stamp: string; sender: ChannelSender }>();
  private timer?: ReturnType<typeof setInterval>;
  /**
   * Monitors read again after change events, many per query, one read after the other (a
   * fleet created or disabled monitor by monitor must not read every monitor for each one)
   */
  private readonly monitorReloads = new IdBatches(
    (ids) => this.reloadMonitorsOf(ids),
    (err, ids) =>
      log.error("cannot read {count} monitor(s) again: {message}", {
        count: ids.length,
        message: err.message,
      }),
  );
  private unsubscribe?: () => void;
  private lastPrune = 0;
  /** CPU spent evaluating committed samples, for /metrics and the bench */
  readonly cost = { evaluateMs: 0, samples: 0 };

  constructor(private readonly deps: AlertingDeps, private readonly opts: AlertingOptions) {
    this.recorder = new ProblemRecorder(
      deps.db,
      () => this.config,
      () => this.outbox.wake(),
      opts.baseUrl,
    );
    this.evaluator = new Evaluator({
      recoveryHoldMs: opts.recoveryHoldMs,
      onTransition: (t) => this.recorder.apply(t),
    });
    this.outbox = new OutboxDelivery(deps.db, (id) => this.senderOf(id), opts.outbox);
  }

  async start(): Promise<void> {
    const devices = await this.reload();
    this.evaluator.restoreOpen(await problemsRepo.openKeys(this.deps.db));
    // Reachability that changed while this process was down opens or resolves now.
    for (const d of devices) this.evaluator.deviceReachability(d.id, d.unreachable, Date.now());
    this.unsubscribe = this.deps.events.subscribe((e) => {
      if (e.entity === "monitor") this.monitorReloads.add(e.id);
      if (e.entity === "device") void this.reloadDevice(e.id);
      if (e.entity === "all") {
        // events may have been missed: everything read again
        this.monitorReloads.run(() => this.reload().then(() => {})).catch((err) =>
          log.error("cannot read alerting's state again: {message}", { message: err.message })
        );
      }
    });
    this.timer = setInterval(() => void this.tick(), this.opts.tickMs);
    this.outbox.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.unsubscribe?.();
    await this.recorder.settle();
    await this.outbox.stop();
  }

  /**
   * Several central processes each evaluate the samples that reach them: every problem one
   * opens or resolves is told to the others (PostgreSQL NOTIFY), whose evaluators follow.
   */
  async shareProblems(notifier: Notifier): Promise<void> {
    const origin = crypto.randomUUID();
    await notifier.listen(PROBLEM_CHANNEL, (payload) => {
      let msg: {
        origin: string;
        open: boolean;
        ruleId: number;
        deviceId: number;
        instance: string;
      };
      try {
        msg = JSON.parse(payload);
      } catch {
        return;
      }
      if (msg.origin !== origin) this.evaluator.syncProblem(msg, msg.open);
    });
    this.recorder.onRecorded = (t) =>
      void notifier.publish(
        PROBLEM_CHANNEL,
        JSON.stringify({
          origin,
          open: t.type === "open",
          ruleId: t.ruleId,
          deviceId: t.deviceId,
          instance: t.instance,
        }),
      ).catch((err) =>
        log.warn("cannot tell the other central processes of a problem: {message}", {
          message: (err as Error).message,
        })
      );
  }

  /** The writer's hook: what one commit held. Comparisons only; writes happen later. */
  committed(samples: readonly MetricSample[], outcomes: readonly PollOutcome[]): void {
    const started = performance.now();
    try {
      this.evaluator.committed(samples, outcomes);
    } catch (err) {
      log.error("alert evaluation failed: {message}", { message: (err as Error).message });
    }
    this.cost.evaluateMs += performance.now() - started;
    this.cost.samples += samples.length;
  }

  deviceReachability(deviceId: number, unreachable: boolean): void {
    this.evaluator.deviceReachability(deviceId, unreachable, Date.now());
  }

  /** Rules, windows, policies, channels, devices and monitors, read again. */
  async reload(): Promise<{ id: number; unreachable: boolean }[]> {
    const db = this.deps.db;
    const [rules, windows, policies, devices] = await Promise.all([
      alertRulesRepo.all(db),
      maintenanceRepo.all(db),
      policiesRepo.all(db),
      deviceTagsRepo.deviceStates(db),
    ]);
    this.config = { rules: new Map(rules.map((r) => [r.id, r])), windows, policies };
    this.evaluator.setDevices(devices);
    this.evaluator.setRules(rules);
    await this.reloadMonitors();
    this.senderCache.clear();
    return devices;
  }

  async tick(now = Date.now()): Promise<void> {
    try {
      this.evaluator.tick(now);
      await this.recorder.settle();
      await this.recorder.repeatDue(now);
      if (now - this.lastPrune > 3_600_000) {
        this.lastPrune = now;
        await problemsRepo.prune(this.deps.db, this.opts.retentionDays);
      }
    } catch (err) {
      log.error("alerting tick failed: {message}", { message: (err as Error).message });
    }
  }

  /** For /metrics and /health. */
  async stats() {
    const [counts, depth] = await Promise.all([
      problemsRepo.counts(this.deps.db),
      outboxRepo.depth(this.deps.db),
    ]);
    return {
      openBySeverity: counts,
      evaluations: this.evaluator.counters.evaluations,
      notifications: [...this.outbox.outcomes].map(([k, n]) => {
        const [channel, outcome] = k.split("|");
        return { channel: Number(channel), outcome, n };
      }),
      outboxPending: depth.pending,
      deadLetters: depth.dead,
    };
  }

  private async reloadMonitors(): Promise<void> {
    this.evaluator.setMonitors(await deviceTagsRepo.monitors(this.deps.db));
  }

  private async reloadMonitorsOf(ids: number[]): Promise<void> {
    const found = new Map(
      (await deviceTagsRepo.monitorsOf(this.deps.db, ids)).map((m) => [m.id, m]),
    );
    for (const id of ids) this.evaluator.updateMonitor(id, found.get(id));
  }

  private async reloadDevice(id: number): Promise<void> {
    const state = await deviceTagsRepo.deviceState(this.deps.db, id);
    if (!state) return;
    const before = this.evaluator.isUnreachable(id);
    this.evaluator.upsertDevice(state);
    // An operator set the status by hand (re-enabled an unreachable device, say).
    if (before !== state.unreachable) {
      this.evaluator.deviceReachability(id, state.unreachable, Date.now());
    }
  }

  private async senderOf(channelId: number): Promise<ChannelSender | undefined> {
    const row = await channelsRepo.get(this.deps.db, channelId);
    if (!row || !row.enabled) return undefined;
    const stamp = new Date(row.updated_at).toISOString();
    const cached = this.senderCache.get(channelId);
    if (cached?.stamp === stamp) return cached.sender;
    const secrets = row.secrets
      ? JSON.parse(await this.deps.keyring.decrypt(row.secrets)) as Record<string, string>
      : {};
    const sender = this.deps.senders({
      id: row.id,
      name: row.name,
      type: row.type,
      settings: row.settings,
      secrets,
    });
    this.senderCache.set(channelId, { stamp, sender });
    return sender;
  }
}
