/**
 * Logic-less payload and message templates: `{{name}}` inserts a variable, `{{json name}}`
 * inserts it as a JSON value. A template is parsed once into literal text and variable slots;
 * rendering only looks names up in a fixed table of variables, so a template can neither run
 * code nor reach anything but the notification (no eval, no property paths, no prototypes).
 *
 * How `{{name}}` is escaped depends on the target: in a webhook body the text is escaped for
 * use inside a JSON string ("…{{summary}}…"); in an email subject or body it is plain text.
 */
import type { Notification } from "../notification.ts";

export class TemplateError extends Error {
  override name = "TemplateError";
}

type Part = string | { name: string; json: boolean };

export interface Template {
  readonly parts: readonly Part[];
}

/** The severity colours used by the chat presets (Slack/Mattermost hex, Adaptive Card names). */
const COLORS = {
  info: ["#439FE0", "accent"],
  warning: ["#DAA038", "warning"],
  high: ["#E8612C", "attention"],
  critical: ["#D0021B", "attention"],
  resolved: ["#2EB886", "good"],
} as const;

/** Every variable a template may use, with a one-line description (shown in docs and errors). */
export const TEMPLATE_VARIABLES: Record<string, string> = {
  idempotencyKey: "stable key of this notification",
  kind: "firing, resolved or test",
  status: "FIRING, RESOLVED or TEST",
  problemId: "problem id (0 for a test)",
  sequence: "notification number within the problem",
  severity: "info, warning, high or critical",
  severityUpper: "INFO, WARNING, HIGH or CRITICAL",
  ruleId: "rule id",
  ruleName: "rule name",
  deviceId: "device id",
  deviceName: "device name",
  deviceIp: "device IP address",
  instance: "volume or interface, empty for device-wide rules",
  tags: "device tags (a list; as text: comma-separated)",
  summary: "one-line description, e.g. C: 92.5 % used > 90 %",
  value: "the value that opened or resolved the problem (may be null)",
  threshold: "the rule's threshold (may be null)",
  openedAt: "when the problem opened (ISO 8601)",
  resolvedAt: "when it resolved (ISO 8601, null while open)",
  acknowledged: "true once acknowledged",
  inMaintenance: "true during a maintenance window",
  url: "dashboard link to the problem",
  title: "[HIGH] CPU > 90 % on WIN-01 — firing",
  color: "hex colour for the severity (green when resolved)",
  cardColor: "Adaptive Card colour name for the severity",
  notification: "the whole notification (use with json)",
};

const TAG = /\{\{\s*(json\s+)?([A-Za-z][A-Za-z0-9_]*)\s*\}\}/y;

/** Parses a template; throws TemplateError naming the first problem. */
export function parseTemplate(source: string): Template {
  const parts: Part[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf("{{", i);
    const close = source.indexOf("}}", i);
    if (close >= 0 && (open < 0 || close < open)) {
      throw new TemplateError(`unmatched "}}" at offset ${close}`);
    }
    if (open < 0) {
      text += source.slice(i);
      break;
    }
    text += source.slice(i, open);
    TAG.lastIndex = open;
    const m = TAG.exec(source);
    if (!m) {
      const end = source.indexOf("}}", open);
      const tag = end < 0 ? source.slice(open, open + 30) : source.slice(open, end + 2);
      throw new TemplateError(
        end < 0
          ? `unclosed "{{" at offset ${open}`
          : `invalid tag ${tag} at offset ${open}: use {{name}} or {{json name}}`,
      );
    }
    const name = m[2];
    if (!Object.hasOwn(TEMPLATE_VARIABLES, name)) {
      throw new TemplateError(
        `unknown variable "${name}" at offset ${open}; known: ${
          Object.keys(TEMPLATE_VARIABLES).join(", ")
        }`,
      );
    }
    if (text) parts.push(text);
    text = "";
    parts.push({ name, json: Boolean(m[1]) });
    i = open + m[0].length;
  }
  if (text) parts.push(text);
  return { parts };
}

/** The values a template sees for one notification. */
export function templateVariables(n: Notification): Map<string, unknown> {
  const status = n.kind.toUpperCase();
  const colors = n.kind === "resolved" ? COLORS.resolved : COLORS[n.severity];
  return new Map<string, unknown>([
    ...Object.entries(n).filter(([k]) => Object.hasOwn(TEMPLATE_VARIABLES, k)),
    ["status", status],
    ["severityUpper", n.severity.toUpperCase()],
    ["title", notificationTitle(n)],
    ["color", colors[0]],
    ["cardColor", colors[1]],
    ["notification", n],
  ]);
}

/** "[HIGH] CPU > 90 % on WIN-01 (C:) — firing" */
export function notificationTitle(n: Notification): string {
  const where = n.instance ? `${n.deviceName} (${n.instance})` : n.deviceName;
  return `[${n.severity.toUpperCase()}] ${n.ruleName} on ${where} — ${n.kind}`;
}

/** Renders for a JSON body: `{{x}}` is escaped for the inside of a JSON string. */
export function renderJson(t: Template, vars: Map<string, unknown>): string {
  return render(t, vars, (s) => JSON.stringify(s).slice(1, -1));
}

/**
 * Renders as plain text (email). A line whose variables all render empty is left out, so a
 * "Resolved: {{resolvedAt}}" line disappears while the problem is open.
 */
export function renderText(t: Template, vars: Map<string, unknown>): string {
  const lines: string[] = [];
  let line = "";
  let slots = 0;
  let filled = 0;
  const endLine = () => {
    if (slots === 0 || filled > 0) lines.push(line);
    line = "";
    slots = filled = 0;
  };
  for (const p of t.parts) {
    if (typeof p === "string") {
      const pieces = p.split("\n");
      line += pieces[0];
      for (const piece of pieces.slice(1)) {
        endLine();
        line += piece;
      }
      continue;
    }
    const v = vars.get(p.name);
    const text = p.json ? JSON.stringify(v ?? null) : asText(v);
    slots++;
    if (text !== "" && text !== "null") filled++;
    line += text;
  }
  if (line !== "" || slots > 0) endLine();
  return lines.join("\n");
}

function render(t: Template, vars: Map<string, unknown>, escape: (s: string) => string): string {
  let out = "";
  for (const p of t.parts) {
    if (typeof p === "string") {
      out += p;
      continue;
    }
    const v = vars.get(p.name);
    out += p.json ? JSON.stringify(v ?? null) : escape(asText(v));
  }
  return out;
}

function asText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(asText).join(", ");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
