/**
 * The Alertmanager channel: POSTs `[alert]` to `{url}/api/v2/alerts`, so teams that route
 * with Alertmanager keep doing so.
 *
 * Labels (empty values are left out, as Alertmanager treats them as absent):
 *   alertname = rule name, severity, device (name), ip, instance (volume/interface),
 *   tags = ",web,prod," (every tag, comma-delimited at both ends so `tags=~".*,prod,.*"` matches
 *   one tag), and tag_<name>="true" per tag (name reduced to [A-Za-z0-9_]) for plain matchers,
 *   plus any static labels from the settings.
 * Annotations: summary, url, and value / threshold when known.
 * startsAt = openedAt. A firing alert carries endsAt = now + alertTtlMinutes, since without it
 * Alertmanager resolves an alert that is not re-sent within its resolve_timeout (5 min); the
 * policy's repeat interval should stay below the TTL. A resolved alert carries endsAt =
 * resolvedAt, which ends it at once. A test alert ends after 5 minutes.
 */
import type { ChannelSender, DeliveryOutcome, Notification } from "../notification.ts";
import { VERSION } from "../../version.ts";
import { postJson } from "./http_post.ts";
import type { Resolver } from "./target_guard.ts";

export const ALERTMANAGER_AUTH = ["none", "basic", "bearer"] as const;
export type AlertmanagerAuth = typeof ALERTMANAGER_AUTH[number];

export interface AlertmanagerSettings {
  /** base URL, e.g. http://alertmanager:9093 (a path prefix is kept) */
  url: string;
  auth: AlertmanagerAuth;
  username?: string;
  alertTtlMinutes: number;
  labels: Record<string, string>;
  timeoutMs: number;
  tlsVerify: boolean;
  caPem?: string;
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

const TEST_TTL_MS = 5 * 60_000;

/** The alert Alertmanager receives for a notification. */
export function alertFor(
  n: Notification,
  settings: Pick<AlertmanagerSettings, "alertTtlMinutes" | "labels">,
  now = new Date(),
): AlertmanagerAlert {
  const labels: Record<string, string> = {};
  const put = (k: string, v: string) => {
    if (v) labels[k] = v;
  };
  for (const [k, v] of Object.entries(settings.labels)) put(k, v);
  put("alertname", n.ruleName);
  put("severity", n.severity);
  put("device", n.deviceName);
  put("ip", n.deviceIp);
  put("instance", n.instance);
  if (n.tags.length) {
    put("tags", `,${n.tags.join(",")},`);
    for (const t of n.tags) put(`tag_${labelNamePart(t)}`, "true");
  }
  const annotations: Record<string, string> = {};
  if (n.summary) annotations.summary = n.summary;
  if (n.url) annotations.url = n.url;
  if (n.value !== null) annotations.value = String(n.value);
  if (n.threshold !== null) annotations.threshold = String(n.threshold);

  const endsAt = n.kind === "resolved" ? (n.resolvedAt ?? now.toISOString()) : new Date(
    now.getTime() + (n.kind === "test" ? TEST_TTL_MS : settings.alertTtlMinutes * 60_000),
  ).toISOString();
  return {
    labels,
    annotations,
    startsAt: n.kind === "test" ? now.toISOString() : n.openedAt,
    endsAt,
    ...(n.url ? { generatorURL: n.url } : {}),
  };
}

/** A tag as the tail of a label name: characters outside [A-Za-z0-9_] become "_". */
export function labelNamePart(tag: string): string {
  return tag.replace(/[^A-Za-z0-9_]/g, "_");
}

export function alertsEndpoint(base: string): string {
  const u = new URL(base);
  u.pathname = u.pathname.replace(/\/+$/, "") + "/api/v2/alerts";
  return u.toString();
}

export function createAlertmanagerSender(
  settings: AlertmanagerSettings,
  secrets: Record<string, string>,
  deps: { allowLinkLocal: boolean; resolve?: Resolver },
): ChannelSender {
  const endpoint = alertsEndpoint(settings.url);
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "User-Agent": `NMSlite/${VERSION}`,
  };
  if (settings.auth === "basic") {
    const pair = new TextEncoder().encode(`${settings.username ?? ""}:${secrets.password ?? ""}`);
    headers.Authorization = `Basic ${btoa(String.fromCharCode(...pair))}`;
  } else if (settings.auth === "bearer") {
    headers.Authorization = `Bearer ${secrets.token ?? ""}`;
  }
  const secretValues = [...Object.values(secrets), headers.Authorization ?? ""];

  return {
    type: "alertmanager",
    async send(n: Notification, signal?: AbortSignal): Promise<DeliveryOutcome> {
      return await postJson({
        url: endpoint,
        body: JSON.stringify([alertFor(n, settings)]),
        headers: { ...headers, "Idempotency-Key": n.idempotencyKey },
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
