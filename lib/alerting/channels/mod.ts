/**
 * Notification channels: what a channel's settings may be (`channelSettingsSchemas`,
 * `validateChannel`) and the sender that carries a Notification to its receiver
 * (`createSender`). Webhook, email (SMTP) and Alertmanager; see each module for the wire format.
 */
import type { ChannelSender, ChannelType, Notification } from "../notification.ts";
import { type AlertmanagerSettings, createAlertmanagerSender } from "./alertmanager.ts";
import { createEmailSender, type EmailSettings } from "./email.ts";
import type { Resolver } from "./target_guard.ts";
import { createWebhookSender, type WebhookSettings } from "./webhook.ts";

export { channelSettingsSchemas, type ChannelValidation, validateChannel } from "./schemas.ts";
export { TEMPLATE_VARIABLES } from "./template.ts";
export { PRESET_TEMPLATES, WEBHOOK_PRESETS, type WebhookPreset } from "./presets.ts";
export {
  EVENT_HEADER,
  HEADER_SECRET_PREFIX,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  webhookSignature,
} from "./webhook.ts";
export { forbiddenReason, TargetRefusedError } from "./target_guard.ts";

export interface ChannelConfig {
  id: number;
  name: string;
  type: ChannelType;
  /** the stored form from validateChannel */
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

export interface SenderDeps {
  /** permit webhook/Alertmanager targets on link-local and cloud-metadata addresses */
  allowLinkLocal: boolean;
  /** name resolution for HTTP targets (tests); the system resolver otherwise */
  resolve?: Resolver;
}

/** The sender for a validated channel. Throws on a type it does not know. */
export function createSender(config: ChannelConfig, deps: SenderDeps): ChannelSender {
  switch (config.type) {
    case "webhook":
      return createWebhookSender(
        config.settings as unknown as WebhookSettings,
        config.secrets,
        deps,
      );
    case "email":
      return createEmailSender(config.settings as unknown as EmailSettings, config.secrets);
    case "alertmanager":
      return createAlertmanagerSender(
        config.settings as unknown as AlertmanagerSettings,
        config.secrets,
        deps,
      );
    default:
      throw new Error(`unknown channel type ${String(config.type)}`);
  }
}

/** The notification "send a test" delivers: kind `test`, problem 0, a fresh idempotency key. */
export function testNotification(
  channelName: string,
  opts: { url?: string; now?: Date } = {},
): Notification {
  const now = opts.now ?? new Date();
  return {
    idempotencyKey: `test-${now.getTime()}-${crypto.randomUUID().slice(0, 8)}`,
    kind: "test",
    problemId: 0,
    sequence: 0,
    severity: "info",
    ruleId: 0,
    ruleName: "NMSlite test notification",
    deviceId: 0,
    deviceName: "NMSlite",
    deviceIp: "",
    instance: "",
    tags: [],
    summary: `Test notification for channel ${channelName}`,
    value: null,
    threshold: null,
    openedAt: now.toISOString(),
    resolvedAt: null,
    acknowledged: false,
    inMaintenance: false,
    url: opts.url ?? "",
  };
}
