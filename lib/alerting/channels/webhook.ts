/**
 * The webhook channel: POSTs the rendered template as JSON.
 *
 * Headers on every request:
 *   Content-Type: application/json
 *   Idempotency-Key: <notification.idempotencyKey>   (receivers deduplicate on it)
 *   X-NMSlite-Event: firing | resolved | test
 *   X-NMSlite-Timestamp: <unix seconds>               (when an HMAC secret is set)
 *   X-NMSlite-Signature: sha256=<hex>                  (when an HMAC secret is set)
 * The signature is HMAC-SHA256 with the channel's secret over `<timestamp>.<body>` (the
 * timestamp header's value, a dot, the exact body bytes); a receiver recomputes it and
 * rejects stale timestamps to stop replays. Custom headers follow, their values secret.
 */
import { createHmac } from "node:crypto";
import type { ChannelSender, DeliveryOutcome, Notification } from "../notification.ts";
import { VERSION } from "../../version.ts";
import { postJson } from "./http_post.ts";
import { PRESET_TEMPLATES, type WebhookPreset } from "./presets.ts";
import { parseTemplate, renderJson, type Template, templateVariables } from "./template.ts";
import type { Resolver } from "./target_guard.ts";

export const TIMESTAMP_HEADER = "X-NMSlite-Timestamp";
export const SIGNATURE_HEADER = "X-NMSlite-Signature";
export const EVENT_HEADER = "X-NMSlite-Event";
export const IDEMPOTENCY_HEADER = "Idempotency-Key";
/** Secret keys of custom headers: `header:<Name>` → value. */
export const HEADER_SECRET_PREFIX = "header:";

export interface WebhookSettings {
  url: string;
  preset: WebhookPreset;
  /** overrides the preset when set */
  template?: string;
  timeoutMs: number;
  tlsVerify: boolean;
  caPem?: string;
}

export interface WebhookSecrets {
  hmacSecret?: string;
  [header: `header:${string}`]: string;
}

/** The body a webhook sends for a notification (the template must render valid JSON). */
export function webhookBody(template: Template, n: Notification): string {
  const body = renderJson(template, templateVariables(n));
  JSON.parse(body); // throws SyntaxError: a template that renders invalid JSON fails here
  return body;
}

/** `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return "sha256=" + createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

export function createWebhookSender(
  settings: WebhookSettings,
  secrets: Record<string, string>,
  deps: { allowLinkLocal: boolean; resolve?: Resolver },
): ChannelSender {
  const template = parseTemplate(settings.template ?? PRESET_TEMPLATES[settings.preset]);
  const custom = Object.entries(secrets)
    .filter(([k]) => k.startsWith(HEADER_SECRET_PREFIX))
    .map(([k, v]) => [k.slice(HEADER_SECRET_PREFIX.length), v] as const);
  const secretValues = Object.values(secrets);

  return {
    type: "webhook",
    async send(n: Notification, signal?: AbortSignal): Promise<DeliveryOutcome> {
      let body: string;
      try {
        body = webhookBody(template, n);
      } catch (e) {
        return {
          ok: false,
          retryable: false,
          status: "template",
          detail: `the payload template does not render valid JSON: ${(e as Error).message}`,
          durationMs: 0,
        };
      }
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "User-Agent": `NMSlite/${VERSION}`,
        [IDEMPOTENCY_HEADER]: n.idempotencyKey,
        [EVENT_HEADER]: n.kind,
      };
      for (const [name, value] of custom) headers[name] = value;
      if (secrets.hmacSecret) {
        const timestamp = String(Math.floor(Date.now() / 1000));
        headers[TIMESTAMP_HEADER] = timestamp;
        headers[SIGNATURE_HEADER] = webhookSignature(secrets.hmacSecret, timestamp, body);
      }
      return await postJson({
        url: settings.url,
        body,
        headers,
        timeoutMs: settings.timeoutMs,
        allowLinkLocal: deps.allowLinkLocal,
        tlsVerify: settings.tlsVerify,
        caPem: settings.caPem,
        secrets: secretValues,
        resolve: deps.resolve,
        signal,
      });
    },
  };
}
