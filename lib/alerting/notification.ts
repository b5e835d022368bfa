/**
 * The seam between alert evaluation (rules, problems, policies, the outbox) and the channels
 * that carry a notification to people (webhook, email, Alertmanager). Evaluation builds a
 * `Notification`; the outbox hands it to the channel's `ChannelSender` and records the
 * `DeliveryOutcome` of every attempt.
 */

export type Severity = "info" | "warning" | "high" | "critical";
export const SEVERITIES: readonly Severity[] = ["info", "warning", "high", "critical"];

/** `firing` when a problem opens (and on repeats), `resolved` when it closes, `test` from "send a test". */
export type NotificationKind = "firing" | "resolved" | "test";

export interface Notification {
  /** Stable per (problem, kind, sequence): receivers deduplicate on it. */
  idempotencyKey: string;
  kind: NotificationKind;
  /** Problem id; 0 for a test. */
  problemId: number;
  /** Monotonic per problem: receivers can order by it. */
  sequence: number;
  severity: Severity;
  ruleId: number;
  ruleName: string;
  deviceId: number;
  deviceName: string;
  deviceIp: string;
  /** Volume or interface name for per-instance rules, "" otherwise. */
  instance: string;
  tags: string[];
  /** Human-readable one-liner, e.g. "C: 92.5 % used > 90 %". */
  summary: string;
  /** The value that opened (firing) or resolved (resolved) the problem; null for state rules. */
  value: number | null;
  threshold: number | null;
  openedAt: string; // ISO 8601
  resolvedAt: string | null; // ISO 8601
  acknowledged: boolean;
  inMaintenance: boolean;
  /** Dashboard link to the problem, absolute when the server knows its public URL. */
  url: string;
}

export type ChannelType = "webhook" | "email" | "alertmanager";

/**
 * Result of one delivery attempt. `retryable: false` means retrying cannot help (a 4xx other
 * than 408/429, a refused recipient, a rejected template); the outbox dead-letters at once.
 * `detail` must never contain a secret (header values, passwords, signatures).
 */
export type DeliveryOutcome =
  | { ok: true; status: string; durationMs: number }
  | { ok: false; retryable: boolean; status: string; detail: string; durationMs: number };

export interface ChannelSender {
  readonly type: ChannelType;
  send(notification: Notification, signal?: AbortSignal): Promise<DeliveryOutcome>;
}
