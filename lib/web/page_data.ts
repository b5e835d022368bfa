/**
 * What the server hands the browser: the rows a page puts into its islands' props (and what
 * /overview.json answers). The read models in lib/db return them, pages pass them on, islands
 * render them. Plain data and pure functions only, since the islands' bundle includes this file.
 */
import type { Role } from "../auth/tokens.ts";
import type { CredentialProfile } from "../db/credential_profiles.ts";
import type { DiscoveryRun } from "../db/discovery_runs.ts";
import type { PollerLoad } from "../observability/poller_load.ts";

/** A choice in a form's select: a credential profile or a plugin. */
export interface NamedOption {
  id: number;
  name: string;
}

/** One device in a "highest use" list; `value` is a percentage. */
export interface TopRow {
  device_id: number;
  name: string;
  value: number;
}

export interface PollError {
  monitor_id: number;
  device_id: number;
  name: string;
  error: string;
  /** ISO 8601 */
  at: string;
}

export interface OverviewData {
  statuses: Record<string, number>;
  devices_total: number;
  monitors_enabled: number;
  polls_per_minute: number;
  failing_last_hour: number;
  top_cpu: TopRow[];
  top_memory: TopRow[];
  top_disk: TopRow[];
  errors: PollError[];
  /** the pollers' saturation, when this process polls (lib/observability/poller_load.ts) */
  poller?: PollerLoad | null;
  generated_at: string;
}

/** A monitor with its device and plugin names; times are ISO 8601. */
export interface MonitorRow {
  id: number;
  device_id: number;
  device_name: string;
  device_ip: string;
  /** a monitor of an unreachable or inactive device is not polled, even when enabled */
  device_status: string;
  plugin_name: string;
  polling_interval: number;
  enabled: boolean;
  /** the last successful poll */
  last_polled: string | null;
  /** the last poll, successful or not */
  last_attempted: string | null;
  /** failed polls since the last success */
  consecutive_failures: number;
  last_error: string | null;
  last_error_at: string | null;
  /** collection config (lib/collectors/collection_profile.ts); {} is the standard profile */
  config: Record<string, unknown>;
}

export interface UserRow {
  id: number;
  username: string;
  role: Role;
}

/** A credential profile as its table shows it (the password never leaves the repository). */
export type CredentialRow = Omit<CredentialProfile, "tls_ca_pem" | "created_at" | "updated_at">;

export interface DiscoveryProfileRow {
  id: number;
  name: string;
  credential_profile_id: number;
  target: string;
  ports: number[];
  /** the site whose pollers run it (absent: local) */
  site?: string;
}

/** A discovery run as the list of recent runs shows it. */
export interface RunSummary {
  id: number;
  discovery_profile_id: number | null;
  status: string;
  addresses_scanned: number;
  addresses_total: number;
  hosts_found: number;
  identified: number;
  failed: number;
  /** ISO 8601: when it started, or was queued */
  started: string | null;
}

/** A discovery run as its page shows it, from the repository or GET /discovery-runs/:id. */
export type DiscoveryRunView =
  & Omit<DiscoveryRun, "status" | "started_by" | "created_at" | "started_at" | "finished_at">
  & {
    status: string;
    /** ISO 8601 */
    created_at: string | null;
    started_at: string | null;
    finished_at: string | null;
  };

type When = Date | string | null | undefined;
const iso = (t: When) => t === null || t === undefined ? null : new Date(t).toISOString();

/** The summary of a run, from a repository row (dates) or the API's JSON (ISO strings). */
export function runSummary(
  r: Omit<RunSummary, "started"> & { started_at?: When; created_at?: When },
): RunSummary {
  return {
    id: r.id,
    discovery_profile_id: r.discovery_profile_id,
    status: r.status,
    addresses_scanned: r.addresses_scanned,
    addresses_total: r.addresses_total,
    hosts_found: r.hosts_found,
    identified: r.identified,
    failed: r.failed,
    started: iso(r.started_at) ?? iso(r.created_at),
  };
}

/** The page's view of a run: the repository's row with its dates as ISO strings. */
export function runView(
  r: Omit<DiscoveryRunView, "created_at" | "started_at" | "finished_at"> & {
    created_at: When;
    started_at: When;
    finished_at: When;
  },
): DiscoveryRunView {
  return {
    id: r.id,
    discovery_profile_id: r.discovery_profile_id,
    status: r.status,
    addresses_total: r.addresses_total,
    addresses_scanned: r.addresses_scanned,
    hosts_found: r.hosts_found,
    identified: r.identified,
    failed: r.failed,
    ping_replies: r.ping_replies,
    pinged: r.pinged,
    error: r.error,
    device_ids: r.device_ids,
    unidentified: r.unidentified,
    created_at: iso(r.created_at),
    started_at: iso(r.started_at),
    finished_at: iso(r.finished_at),
  };
}
