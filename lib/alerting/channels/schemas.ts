/**
 * What a channel's settings and secrets may be, per type, and `validateChannel`, which turns
 * API input into the stored form (defaults filled in, secrets flattened to strings) or names
 * the first bad field. The stored form validates to itself, so an update can merge stored and
 * new secrets and validate the result.
 */
import { z } from "zod";
import type { ChannelType } from "../notification.ts";
import { ALERTMANAGER_AUTH } from "./alertmanager.ts";
import {
  DEFAULT_BODY_TEMPLATE,
  DEFAULT_SMTP_PORT,
  DEFAULT_SUBJECT_TEMPLATE,
  EMAIL_SECURITY,
} from "./email.ts";
import { WEBHOOK_PRESETS } from "./presets.ts";
import { parseTemplate, renderJson, TemplateError, templateVariables } from "./template.ts";
import { HEADER_SECRET_PREFIX } from "./webhook.ts";
import type { Notification } from "../notification.ts";

const HEADER_NAME = /^[!#$%&\x27*+.^_\x60|~0-9A-Za-z-]{1,100}$/;
/** Headers the webhook sets itself or the transport owns. */
const RESERVED_HEADERS = new Set([
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "idempotency-key",
  "x-nmslite-timestamp",
  "x-nmslite-signature",
  "x-nmslite-event",
]);
const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** local@domain, optionally as `Name <local@domain>`; the domain may be a bare host name. */
const ADDRESS =
  /^(?:[^<>\r\n]*<)?([A-Za-z0-9!#$%&\x27*+/=?^_\x60{|}~-]+(?:\.[A-Za-z0-9!#$%&\x27*+/=?^_\x60{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*)>?$/;
const HOSTNAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$|^\d+\.\d+\.\d+\.\d+$|^\[?[0-9A-Fa-f:.]+\]?$/;

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

function isAddress(s: string): boolean {
  const angle = s.includes("<");
  return ADDRESS.test(s.trim()) && (!angle || s.trim().endsWith(">"));
}

const httpUrl = z.string().trim().max(2048).refine(
  isHttpUrl,
  "must be an http:// or https:// URL with a host",
);
const pem = z.string().max(65536).refine(
  (s) => s.includes("-----BEGIN CERTIFICATE-----"),
  "must be one or more PEM certificates (-----BEGIN CERTIFICATE-----)",
);
const timeoutMs = (fallback: number) => z.number().int().min(1000).max(120_000).default(fallback);

/** A sample notification: a template must render valid JSON for it to be accepted. */
const SAMPLE: Notification = {
  idempotencyKey: "sample-1",
  kind: "firing",
  problemId: 1,
  sequence: 1,
  severity: "high",
  ruleId: 1,
  ruleName: 'Sample "rule"',
  deviceId: 1,
  deviceName: "WIN-01",
  deviceIp: "192.0.2.10",
  instance: "C:\\",
  tags: ["a", "b"],
  summary: "C: 92.5 % used > 90 %",
  value: 92.5,
  threshold: 90,
  openedAt: "2026-01-01T00:00:00.000Z",
  resolvedAt: null,
  acknowledged: false,
  inMaintenance: false,
  url: "http://nmslite.example/problems/1",
};

function checkTemplate(json: boolean) {
  return (source: string | undefined, ctx: z.RefinementCtx) => {
    if (source === undefined) return;
    try {
      const t = parseTemplate(source);
      if (json) JSON.parse(renderJson(t, templateVariables(SAMPLE)));
    } catch (e) {
      const message = e instanceof TemplateError
        ? `unparseable template: ${e.message}`
        : `template does not render valid JSON: ${(e as Error).message}`;
      ctx.addIssue({ code: "custom", message });
    }
  };
}

const webhookSettings = z.strictObject({
  url: httpUrl,
  preset: z.enum(WEBHOOK_PRESETS, { error: `must be one of ${WEBHOOK_PRESETS.join(", ")}` })
    .default("default"),
  template: z.string().max(16384).optional().superRefine(checkTemplate(true)),
  timeoutMs: timeoutMs(10_000),
  tlsVerify: z.boolean().default(true),
  caPem: pem.optional(),
});

const headerValue = z.string().min(1).max(8192).refine(
  (v) => !/[\r\n\0]/.test(v),
  "must not contain line breaks",
);
const webhookSecrets = z.object({
  hmacSecret: z.string().min(8, "must be at least 8 characters").max(1024).optional(),
  /** custom headers, name → value (stored as `header:<name>` keys) */
  headers: z.record(z.string(), headerValue).optional(),
}).catchall(headerValue).superRefine((s, ctx) => {
  const names = [
    ...Object.keys(s.headers ?? {}).map((n) => [n, ["headers", n]] as const),
    ...Object.keys(s).filter((k) => k !== "hmacSecret" && k !== "headers").map((k) => {
      if (!k.startsWith(HEADER_SECRET_PREFIX)) {
        ctx.addIssue({
          code: "custom",
          path: [k],
          message: `unknown secret; use hmacSecret, headers, or ${HEADER_SECRET_PREFIX}<name>`,
        });
      }
      return [k.slice(HEADER_SECRET_PREFIX.length), [k]] as const;
    }),
  ];
  for (const [name, path] of names) {
    if (!HEADER_NAME.test(name)) {
      ctx.addIssue({ code: "custom", path: [...path], message: "invalid header name" });
    } else if (RESERVED_HEADERS.has(name.toLowerCase())) {
      ctx.addIssue({
        code: "custom",
        path: [...path],
        message: `${name} is set by NMSlite and cannot be overridden`,
      });
    }
  }
});

const emailSettings = z.strictObject({
  host: z.string().trim().min(1).max(253).refine((h) => HOSTNAME.test(h), "invalid host name"),
  port: z.number({ error: "must be a port number" }).int().min(1, "must be 1-65535")
    .max(65535, "must be 1-65535").optional(),
  security: z.enum(EMAIL_SECURITY, { error: `must be one of ${EMAIL_SECURITY.join(", ")}` })
    .default("starttls"),
  username: z.string().min(1).max(256).optional(),
  from: z.string().max(320).refine(isAddress, "invalid email address"),
  /** recipients: a list, or one string separated by commas (checked in validateChannel) */
  to: z.union([z.array(z.string().max(320)), z.string().max(16000)], {
    error: "must be a list of addresses or a comma-separated string",
  }),
  subjectTemplate: z.string().min(1).max(1000).optional().superRefine(checkTemplate(false)),
  bodyTemplate: z.string().min(1).max(16384).optional().superRefine(checkTemplate(false)),
  timeoutMs: timeoutMs(15_000),
  tlsVerify: z.boolean().default(true),
  caPem: pem.optional(),
});
const emailSecrets = z.strictObject({ password: z.string().min(1).max(1024).optional() });

const alertmanagerSettings = z.strictObject({
  url: httpUrl,
  auth: z.enum(ALERTMANAGER_AUTH, { error: `must be one of ${ALERTMANAGER_AUTH.join(", ")}` })
    .default("none"),
  username: z.string().min(1).max(256).optional(),
  alertTtlMinutes: z.number().int().min(5).max(43_200).default(10_080),
  labels: z.record(
    z.string().regex(LABEL_NAME, "label names are [A-Za-z_][A-Za-z0-9_]*"),
    z.string().min(1).max(1024),
  ).default({}),
  timeoutMs: timeoutMs(10_000),
  tlsVerify: z.boolean().default(true),
  caPem: pem.optional(),
});
const alertmanagerSecrets = z.strictObject({
  password: z.string().min(1).max(1024).optional(),
  token: z.string().min(1).max(8192).optional(),
});

/** `{ type, settings, secrets }` per channel type (secrets are write-only). */
export const channelSettingsSchemas = {
  webhook: z.object({
    type: z.literal("webhook"),
    settings: webhookSettings,
    secrets: webhookSecrets.default({}),
  }),
  email: z.object({
    type: z.literal("email"),
    settings: emailSettings,
    secrets: emailSecrets.default({}),
  }),
  alertmanager: z.object({
    type: z.literal("alertmanager"),
    settings: alertmanagerSettings,
    secrets: alertmanagerSecrets.default({}),
  }),
} as const;

export type ChannelValidation =
  | { ok: true; settings: Record<string, unknown>; secrets: Record<string, string> }
  | { ok: false; field: string; message: string };

/** Checks a channel's settings and secrets; returns the stored form or the first bad field. */
export function validateChannel(
  type: ChannelType,
  settings: unknown,
  secrets: unknown,
): ChannelValidation {
  const schema = (channelSettingsSchemas as Record<string, z.ZodType>)[type];
  if (!schema || !Object.hasOwn(channelSettingsSchemas, type)) {
    return { ok: false, field: "type", message: "must be one of webhook, email, alertmanager" };
  }
  const parsed = schema.safeParse({ type, settings, secrets: secrets ?? undefined });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // a bad record key (label name) carries the key schema's own message inside
    const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    return { ok: false, field: fieldOf(issue.path), message: inner ?? issue.message };
  }
  const value = parsed.data as { settings: Record<string, unknown>; secrets: SecretsInput };
  const out = { ...value.settings };
  const flat = flattenSecrets(value.secrets);

  if (type === "email") {
    const to = typeof out.to === "string"
      ? (out.to as string).split(/[,;]/).map((s) => s.trim()).filter(Boolean)
      : out.to as string[];
    const bad = to.findIndex((a) => !isAddress(a));
    if (to.length === 0) return fail("settings.to", "at least one recipient is required");
    if (bad >= 0) return fail(`settings.to.${bad}`, "invalid email address");
    if (to.length > 50) return fail("settings.to", "at most 50 recipients");
    out.to = to;
    out.port ??= DEFAULT_SMTP_PORT[out.security as keyof typeof DEFAULT_SMTP_PORT];
    out.subjectTemplate ??= DEFAULT_SUBJECT_TEMPLATE;
    out.bodyTemplate ??= DEFAULT_BODY_TEMPLATE;
    if (flat.password && !out.username) {
      return fail("settings.username", "required when a password is set");
    }
    if (out.username && !flat.password) {
      return fail("secrets.password", "required when a username is set");
    }
    if (out.username && out.security === "none") {
      return fail(
        "settings.security",
        "authentication needs starttls or tls (no password in clear)",
      );
    }
  }
  if (type === "alertmanager") {
    if (out.auth === "basic" && !out.username) {
      return fail("settings.username", "required for basic authentication");
    }
    if (out.auth === "basic" && !flat.password) {
      return fail("secrets.password", "required for basic authentication");
    }
    if (out.auth === "bearer" && !flat.token) {
      return fail("secrets.token", "required for bearer authentication");
    }
  }
  return { ok: true, settings: out, secrets: flat };
}

type SecretsInput = Record<string, string | Record<string, string> | undefined>;

function flattenSecrets(input: SecretsInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    if (k === "headers" && typeof v === "object") {
      for (const [name, value] of Object.entries(v)) out[HEADER_SECRET_PREFIX + name] = value;
    } else if (typeof v === "string") out[k] = v;
  }
  return out;
}

function fail(field: string, message: string): ChannelValidation {
  return { ok: false, field, message };
}

function fieldOf(path: PropertyKey[]): string {
  return path.map(String).join(".") || "settings";
}
