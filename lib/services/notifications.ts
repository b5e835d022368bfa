/**
 * Notification channels (admin only) and the policies that choose them. A channel's secret
 * settings are sealed with the keyring like credential passwords and never returned: a
 * response names which secrets are set, never their values. "Send a test" goes straight to
 * the channel's sender, not through the outbox, and answers how it went.
 */
import type { Keyring } from "../crypto/secrets.ts";
import {
  type ChannelRow,
  channelsRepo,
  policiesRepo,
  type Policy,
  type PolicyWrite,
} from "../db/notifications.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit } from "../audit.ts";
import type { ChannelType, DeliveryOutcome, Notification } from "../alerting/notification.ts";
import type { SenderFactory } from "../alerting/runtime.ts";
import { found, invalid, ServiceError } from "./errors.ts";
import { change } from "./service.ts";
import type { AlertingServiceDeps } from "./alerting.ts";
import { UniqueViolationError } from "../db/driver.ts";

export type ChannelValidation =
  | { ok: true; settings: Record<string, unknown>; secrets: Record<string, string> }
  | { ok: false; field: string; message: string };

/** What the channel implementations offer (lib/alerting/channels/mod.ts, wired in compose). */
export interface ChannelKinds {
  validate(
    type: ChannelType,
    settings: unknown,
    secrets: unknown,
  ): ChannelValidation;
  senders: SenderFactory;
}

export interface ChannelView {
  id: number;
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  /** names of the secret settings that are set (values are never returned) */
  secrets_set: string[];
  enabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ChannelBody {
  name: string;
  type: ChannelType;
  settings: Record<string, unknown>;
  /** write-only; on update a secret left out keeps its value, null removes it */
  secrets?: Record<string, unknown>;
  enabled?: boolean;
}

export interface NotificationServiceDeps extends AlertingServiceDeps {
  keyring: Keyring;
  channels: () => ChannelKinds | undefined;
}

export class NotificationChannelsService {
  constructor(private readonly deps: NotificationServiceDeps) {}

  async list(q: ListParams): Promise<Page<ChannelView>> {
    const page = await channelsRepo.list(this.deps.db, q);
    return { ...page, items: await Promise.all(page.items.map((r) => this.view(r))) };
  }

  async get(id: number): Promise<ChannelView | undefined> {
    const row = await channelsRepo.get(this.deps.db, id);
    return row && await this.view(row);
  }

  async create(actor: Actor, body: ChannelBody): Promise<ChannelView> {
    const write = await this.toWrite(body, {});
    const row = await change(this.deps, async (tx) => {
      const row = await unique(() => channelsRepo.create(tx, write), body.name);
      await audit(tx, actor, "create", "notification_channel", row.id, {
        name: body.name,
        type: body.type,
      });
      return row;
    });
    await this.deps.alerting()?.reload();
    return await this.view(row);
  }

  async update(actor: Actor, id: number, body: ChannelBody): Promise<ChannelView> {
    const existing = found(await channelsRepo.get(this.deps.db, id), "notification channel", id);
    const write = await this.toWrite(body, await this.secretsOf(existing));
    const row = await change(this.deps, async (tx) => {
      const row = found(
        await unique(() => channelsRepo.update(tx, id, write), body.name),
        "notification channel",
        id,
      );
      await audit(tx, actor, "update", "notification_channel", id, {
        name: body.name,
        type: body.type,
      });
      return row;
    });
    await this.deps.alerting()?.reload();
    return await this.view(row);
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await change(this.deps, async (tx) => {
      if (!await channelsRepo.delete(tx, id)) throw found(undefined, "notification channel", id);
      await audit(tx, actor, "delete", "notification_channel", id);
    });
    await this.deps.alerting()?.reload();
  }

  /** Sends a test notification through the channel now and answers the outcome. */
  async test(actor: Actor, id: number): Promise<DeliveryOutcome> {
    const row = found(await channelsRepo.get(this.deps.db, id), "notification channel", id);
    const kinds = this.kinds();
    const sender = kinds.senders({
      id: row.id,
      name: row.name,
      type: row.type,
      settings: row.settings,
      secrets: await this.secretsOf(row),
    });
    const now = new Date().toISOString();
    const n: Notification = {
      idempotencyKey: `nmslite-test-${row.id}-${crypto.randomUUID()}`,
      kind: "test",
      problemId: 0,
      sequence: 0,
      severity: "info",
      ruleId: 0,
      ruleName: "Test notification",
      deviceId: 0,
      deviceName: "nmslite",
      deviceIp: "127.0.0.1",
      instance: "",
      tags: [],
      summary: `Test notification from NMSlite to channel "${row.name}"`,
      value: null,
      threshold: null,
      openedAt: now,
      resolvedAt: null,
      acknowledged: false,
      inMaintenance: false,
      url: "/problems",
    };
    const outcome = await sender.send(n, AbortSignal.timeout(15_000));
    await change(this.deps, (tx) =>
      audit(tx, actor, "test", "notification_channel", id, {
        ok: outcome.ok,
        status: outcome.status,
      }));
    return outcome;
  }

  private kinds(): ChannelKinds {
    const kinds = this.deps.channels();
    if (!kinds) {
      throw new ServiceError(503, "UNAVAILABLE", "notification channels are not available");
    }
    return kinds;
  }

  private async toWrite(body: ChannelBody, current: Record<string, string>) {
    const secrets: Record<string, unknown> = { ...current };
    for (const [k, v] of Object.entries(body.secrets ?? {})) {
      if (v === null || v === "") delete secrets[k];
      else secrets[k] = v;
    }
    const checked = this.kinds().validate(body.type, body.settings, secrets);
    if (!checked.ok) throw invalid(checked.field, checked.message);
    const names = Object.keys(checked.secrets);
    return {
      name: body.name.trim(),
      type: body.type,
      settings: checked.settings,
      secrets: names.length
        ? await this.deps.keyring.encrypt(JSON.stringify(checked.secrets))
        : null,
      enabled: body.enabled ?? true,
    };
  }

  private async secretsOf(row: ChannelRow): Promise<Record<string, string>> {
    return row.secrets ? JSON.parse(await this.deps.keyring.decrypt(row.secrets)) : {};
  }

  private async view(row: ChannelRow): Promise<ChannelView> {
    const { secrets: _sealed, ...rest } = row;
    return { ...rest, secrets_set: Object.keys(await this.secretsOf(row)).sort() };
  }
}

async function unique<T>(write: () => Promise<T>, name: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if ((err as { code?: string }).code === "23505" || err instanceof UniqueViolationError) {
      throw new ServiceError(409, "CONFLICT", `a channel named "${name}" exists`, {
        field: "name",
      });
    }
    throw err;
  }
}

export class NotificationPoliciesService {
  constructor(private readonly deps: AlertingServiceDeps) {}

  list(q: ListParams): Promise<Page<Policy>> {
    return policiesRepo.list(this.deps.db, q);
  }

  get(id: number): Promise<Policy | undefined> {
    return policiesRepo.get(this.deps.db, id);
  }

  async create(actor: Actor, body: PolicyWrite): Promise<Policy> {
    const row = await change(this.deps, async (tx) => {
      if (!await channelsRepo.get(tx, body.channel_id)) {
        throw invalid("channel_id", `notification channel ${body.channel_id} not found`);
      }
      const row = await policiesRepo.create(tx, body);
      await audit(tx, actor, "create", "notification_policy", row.id, { ...body });
      return row;
    });
    await this.deps.alerting()?.reload();
    return row;
  }

  async update(actor: Actor, id: number, body: PolicyWrite): Promise<Policy> {
    const row = await change(this.deps, async (tx) => {
      if (!await channelsRepo.get(tx, body.channel_id)) {
        throw invalid("channel_id", `notification channel ${body.channel_id} not found`);
      }
      const row = found(await policiesRepo.update(tx, id, body), "notification policy", id);
      await audit(tx, actor, "update", "notification_policy", id, { ...body });
      return row;
    });
    await this.deps.alerting()?.reload();
    return row;
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await change(this.deps, async (tx) => {
      if (!await policiesRepo.delete(tx, id)) throw found(undefined, "notification policy", id);
      await audit(tx, actor, "delete", "notification_policy", id);
    });
    await this.deps.alerting()?.reload();
  }
}
