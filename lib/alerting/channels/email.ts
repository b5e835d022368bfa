/**
 * The email channel: one message per notification over SMTP with nodemailer, as plain text
 * with a simple HTML alternative. Security `none` never upgrades, `starttls` requires the
 * upgrade (and fails rather than send in clear), `tls` is implicit TLS (port 465). Server
 * certificates are verified unless the settings trust an extra CA or turn verification off.
 * The Message-ID derives from the idempotency key, and every message of one problem
 * references the same id, so mail clients thread firing and resolved together.
 */
import nodemailer from "nodemailer";
import { isIP } from "node:net";
import type { ChannelSender, DeliveryOutcome, Notification } from "../notification.ts";
import { redact } from "./http_post.ts";
import { parseTemplate, renderText, type Template, templateVariables } from "./template.ts";

export const EMAIL_SECURITY = ["none", "starttls", "tls"] as const;
export type EmailSecurity = typeof EMAIL_SECURITY[number];
export const DEFAULT_SMTP_PORT: Record<EmailSecurity, number> = {
  none: 25,
  starttls: 587,
  tls: 465,
};

export const DEFAULT_SUBJECT_TEMPLATE = "{{title}}";
export const DEFAULT_BODY_TEMPLATE = `{{summary}}

Status:    {{status}}
Severity:  {{severity}}
Rule:      {{ruleName}}
Device:    {{deviceName}} ({{deviceIp}})
Instance:  {{instance}}
Value:     {{value}} (threshold {{threshold}})
Opened:    {{openedAt}}
Resolved:  {{resolvedAt}}
Tags:      {{tags}}

{{url}}
`;

export interface EmailSettings {
  host: string;
  port: number;
  security: EmailSecurity;
  username?: string;
  from: string;
  to: string[];
  subjectTemplate: string;
  bodyTemplate: string;
  timeoutMs: number;
  tlsVerify: boolean;
  caPem?: string;
}

/** The part of nodemailer's transport this channel uses (the package ships no types). */
interface MailTransport {
  sendMail(message: Record<string, unknown>): Promise<{ messageId: string; response: string }>;
  close(): void;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export function renderEmail(
  subject: Template,
  body: Template,
  n: Notification,
): RenderedEmail {
  const vars = templateVariables(n);
  const text = renderText(body, vars);
  const color = String(vars.get("color"));
  return {
    subject: renderText(subject, vars).replace(/[\r\n]+/g, " ").trim(),
    text,
    html: `<!doctype html><html><body style="font-family:sans-serif">` +
      `<h2 style="color:${color};margin:0 0 12px">${escapeHtml(String(vars.get("title")))}</h2>` +
      `<pre style="font-family:inherit;white-space:pre-wrap;margin:0">${escapeHtml(text)}</pre>` +
      (n.url ? `<p><a href="${escapeHtml(n.url)}">Open in NMSlite</a></p>` : "") +
      `</body></html>`,
  };
}

export function createEmailSender(
  settings: EmailSettings,
  secrets: Record<string, string>,
): ChannelSender {
  const subject = parseTemplate(settings.subjectTemplate);
  const body = parseTemplate(settings.bodyTemplate);
  const transport = nodemailer.createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.security === "tls",
    requireTLS: settings.security === "starttls",
    ignoreTLS: settings.security === "none",
    auth: settings.username ? { user: settings.username, pass: secrets.password ?? "" } : undefined,
    tls: {
      rejectUnauthorized: settings.tlsVerify,
      ca: settings.caPem || undefined,
      // SNI takes names only; an IP is checked against the certificate's IP SANs
      servername: isIP(settings.host) ? undefined : settings.host,
    },
    connectionTimeout: settings.timeoutMs,
    greetingTimeout: settings.timeoutMs,
    socketTimeout: settings.timeoutMs,
    disableFileAccess: true,
    disableUrlAccess: true,
  }) as MailTransport;
  const secretValues = Object.values(secrets);

  return {
    type: "email",
    async send(n: Notification, signal?: AbortSignal): Promise<DeliveryOutcome> {
      const started = performance.now();
      const elapsed = () => Math.round(performance.now() - started);
      if (signal?.aborted) {
        return {
          ok: false,
          retryable: true,
          status: "aborted",
          detail: "delivery aborted",
          durationMs: 0,
        };
      }
      const message = renderEmail(subject, body, n);
      try {
        const info = await transport.sendMail({
          from: settings.from,
          to: settings.to,
          ...message,
          messageId: `<${messageIdPart(n.idempotencyKey)}@nmslite>`,
          references: n.problemId ? `<problem-${n.problemId}@nmslite>` : undefined,
          headers: { "X-NMSlite-Idempotency-Key": n.idempotencyKey, "X-NMSlite-Event": n.kind },
        });
        return { ok: true, status: smtpStatus(info.response), durationMs: elapsed() };
      } catch (e) {
        const err = e as { responseCode?: number; code?: string; message?: string };
        const code = err.responseCode;
        const status = code ? `SMTP ${code}` : (err.code ?? "error");
        return {
          ok: false,
          // 5xx is the server's final word (bad recipient, auth refused, message rejected)
          retryable: code ? code < 500 : err.code !== "EENVELOPE",
          status,
          detail: redact(
            `${settings.host}:${settings.port}: ${err.message ?? String(e)}`,
            secretValues,
          ),
          durationMs: elapsed(),
        };
      }
    },
  };
}

function smtpStatus(response: string): string {
  const m = /^(\d{3})/.exec(response ?? "");
  return m ? `SMTP ${m[1]}` : "sent";
}

function messageIdPart(key: string): string {
  return key.replace(/[^A-Za-z0-9._-]/g, "-") || "nmslite";
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
