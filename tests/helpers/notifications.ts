/** A realistic Notification for channel tests; fields can be overridden. */
import type { Notification } from "../../lib/alerting/notification.ts";

export function sampleNotification(over: Partial<Notification> = {}): Notification {
  return {
    idempotencyKey: "p42-firing-1",
    kind: "firing",
    problemId: 42,
    sequence: 1,
    severity: "high",
    ruleId: 7,
    ruleName: "Volume > 90 % used",
    deviceId: 3,
    deviceName: "WIN-01",
    deviceIp: "127.0.0.5",
    instance: "C:",
    tags: ["prod", "web-tier"],
    summary: "C: 92.5 % used > 90 %",
    value: 92.5,
    threshold: 90,
    openedAt: new Date(Date.now() - 60_000).toISOString(),
    resolvedAt: null,
    acknowledged: false,
    inMaintenance: false,
    url: "http://127.0.0.1:8080/problems/42",
    ...over,
  };
}
