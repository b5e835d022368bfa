/**
 * Configuration, read once at start: command-line flags > environment (`NMSLITE_*`) > config
 * file (`NMSLITE_CONFIG` or `--config`, YAML or JSON). Every value is validated here so a bad
 * setting stops the program with a message naming the setting, never half-way through a run.
 *
 * ```ts
 * const config = loadConfig(["--server.port", "9443"], Deno.env.toObject());
 * ```
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const duration = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  if (typeof v === "number") return v;
  const ms = parseDurationMs(v);
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `not a duration: "${v}" (use e.g. 30s, 15m, 7d)` });
    return z.NEVER;
  }
  return ms;
});

const boolish = z.union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])])
  .transform((v) => v === true || v === "true" || v === "1" || v === "yes");

const port = z.coerce.number().int().min(1).max(65535);

export const ConfigSchema = z.object({
  server: z.object({
    host: z.string().min(1).default("0.0.0.0"),
    port: port.default(8443),
    /** Plain HTTP, for running behind a TLS-terminating proxy. */
    plain_http: boolish.default(false),
    cert_file: z.string().optional(),
    key_file: z.string().optional(),
    body_limit_bytes: z.coerce.number().int().min(1024).default(1024 * 1024),
    /** time from accept to a complete request head (slow or silent clients are closed) */
    header_timeout_ms: duration.pipe(z.number().min(100)).default(20_000),
    /** a kept-alive connection with no request for this long is closed */
    idle_timeout_ms: duration.pipe(z.number().min(100)).default(30_000),
    /** connections served at once; more wait in the listen backlog */
    max_connections: z.coerce.number().int().min(1).max(1_000_000).default(512),
    /** connections one client address may hold (0: no cap; trusted proxies have none) */
    max_connections_per_ip: z.coerce.number().int().min(0).max(1_000_000).default(128),
    /**
     * Proxies (IP addresses, comma-separated) whose X-Forwarded-Proto is believed: a request
     * from one of them that says https gets Secure cookies on a --plain-http server.
     */
    trusted_proxies: z.union([z.string(), z.array(z.string())]).default("").transform(
      (v, ctx) => {
        const list = (Array.isArray(v) ? v : v.split(",")).map((a) => a.trim()).filter(Boolean);
        for (const a of list) {
          if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(a) && !/^[0-9a-f:.]+$/i.test(a)) {
            ctx.addIssue({ code: "custom", message: `not an IP address: "${a}"` });
            return z.NEVER;
          }
        }
        return list;
      },
    ),
  }).prefault({}),
  data_dir: z.string().min(1).default("./data"),
  database: z.object({
    /** postgres://… ; empty means the embedded PGlite database in `<data_dir>/pglite`. */
    url: z.string().optional(),
    max_connections: z.coerce.number().int().min(1).max(200).default(10),
  }).prefault({}),
  auth: z.object({
    jwt_secret: z.string().min(32, "must be at least 32 characters").optional(),
    access_token_ttl_ms: duration.default(15 * 60_000),
    refresh_token_ttl_ms: duration.default(7 * 24 * 3_600_000),
    bcrypt_cost: z.coerce.number().int().min(10).max(15).default(12),
    login_max_failures: z.coerce.number().int().min(1).default(5),
    login_lockout_ms: duration.default(15 * 60_000),
  }).prefault({}),
  admin: z.object({
    username: z.string().min(1).default("admin"),
    password: z.string().min(8, "must be at least 8 characters").optional(),
  }).prefault({}),
  encryption: z.object({
    /** 32 bytes as 64 hex characters or base64; absent means `<data_dir>/master.key`. */
    master_key: z.string().optional(),
    /** Earlier master keys, comma-separated, still accepted for decryption during rotation. */
    previous_keys: z.string().optional(),
  }).prefault({}),
  metrics: z.object({
    retention_days: z.coerce.number().int().min(0).default(90),
    /** top-process lists (extended profile): kept shorter, they are the bulkiest rows */
    process_retention_days: z.coerce.number().int().min(0).default(7),
    /** event log entries (full profile) and device events such as reboots */
    event_retention_days: z.coerce.number().int().min(0).default(30),
  }).prefault({}),
  log: z.object({
    level: z.enum(["debug", "info", "warning", "error"]).default("info"),
  }).prefault({}),
  polling: z.object({
    /** Turns the scheduler, pollers and writer off (API-only process). */
    enabled: boolish.default(true),
    pollers: z.coerce.number().int().min(1).max(32).default(2),
    /** polls in flight per poller Worker */
    concurrency: z.coerce.number().int().min(1).max(2_000).default(200),
    /** polls that may wait for a slot per poller Worker; absent: 4 x concurrency (at least 64) */
    max_queued: z.coerce.number().int().min(0).max(100_000).optional(),
    /**
     * a queue past max_queued still takes polls while its oldest has waited less than this (the
     * polls of a scheduler slot arrive together), up to 4 x max_queued; 0: max_queued is strict
     * (the default is lib/polling/poller.ts's DEFAULT_QUEUE_BURST_MS, which poller nodes use)
     */
    queue_burst_ms: duration.pipe(z.number().max(60_000)).default(1_500),
    /** operations at once against one target host */
    per_host_limit: z.coerce.number().int().min(1).max(16).default(2),
    timeout_ms: duration.default(30_000),
    retries: z.coerce.number().int().min(0).max(5).default(2),
    retry_backoff_ms: duration.default(1_000),
    credential_ttl_ms: duration.default(5 * 60_000),
    /** pipeline a poll's WinRM queries on one connection (hosts that cannot are detected) */
    winrm_pipelining: boolish.default(true),
    /** Deno KV file of the results queue; empty means `<data_dir>/queue.kv`. */
    queue_path: z.string().optional(),
  }).prefault({}),
  discovery: z.object({
    concurrency: z.coerce.number().int().min(1).max(4_096).default(256),
    probe_timeout_ms: duration.default(1_000),
    identify_concurrency: z.coerce.number().int().min(1).max(256).default(16),
    identify_timeout_ms: duration.default(15_000),
    ping: boolish.default(true),
  }).prefault({}),
  plugins: z.object({
    /** exec plugins must live here; empty means `<data_dir>/plugins` (admins install them) */
    dir: z.string().optional(),
  }).prefault({}),
  health: z.object({
    /** failures closer together than the window count up; a quiet window resets */
    failure_window_ms: duration.default(5 * 60_000),
    failure_threshold: z.coerce.number().int().min(1).default(5),
    /** an unreachable device is probed for recovery after this long */
    reactivate_after_ms: duration.default(5 * 60_000),
    probe_interval_ms: duration.default(30_000),
  }).prefault({}),
  /**
   * all-in-one: API, dashboard and the local Workers (default). central: API, dashboard and
   * ingest only; needs PostgreSQL and secrets from the environment, writes no local files.
   */
  role: z.enum(["all-in-one", "central"]).default("all-in-one"),
  /** Poller nodes (issue 13): how they are enrolled, kept alive and what they may send. */
  nodes: z.object({
    enrolment_ttl_ms: duration.default(24 * 3_600_000),
    heartbeat_ms: duration.pipe(z.number().min(100)).default(2_000),
    /** a node silent this long is not live: its monitors go to the site's other nodes */
    heartbeat_timeout_ms: duration.pipe(z.number().min(200)).default(10_000),
    ingest_max_rows: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
    ingest_max_future_ms: duration.default(5 * 60_000),
  }).prefault({}),
  alerting: z.object({
    /** how often "no data" rules and held / repeat notifications are checked */
    tick_ms: duration.default(15_000),
    /** a recovered metric must stay good this long before its problem resolves */
    recovery_hold_ms: duration.default(60_000),
    /** first notification retry after this long, doubling up to the maximum */
    retry_base_ms: duration.default(5_000),
    retry_max_ms: duration.default(300_000),
    /** attempts before a notification is dead-lettered */
    max_attempts: z.coerce.number().int().min(1).max(100).default(12),
    /** webhook targets on link-local / cloud metadata addresses are refused unless true */
    allow_link_local: boolish.default(false),
    /** the dashboard's public URL for links in notifications; empty for relative links */
    public_url: z.string().default(""),
  }).prefault({}),
  /** Kerberos for WinRM (issue 15). */
  kerberos: z.object({
    /**
     * Let an account with only RC4-HMAC keys (RFC 4757) authenticate: weak and deprecated,
     * so off by default; service tickets are still asked for with AES keys only.
     */
    allow_rc4: boolish.default(false),
  }).prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;

/** The exec-plugin directory: `plugins.dir`, or `<data_dir>/plugins`. */
export function pluginDirOf(config: Pick<Config, "plugins" | "data_dir">): string {
  return config.plugins.dir || `${config.data_dir}/plugins`;
}

/** Environment variable -> config path. Names follow the NMSlite 1.0 design (§10.3). */
const ENV_NAMES: Record<string, string> = {
  NMSLITE_SERVER_HOST: "server.host",
  NMSLITE_SERVER_PORT: "server.port",
  NMSLITE_PLAIN_HTTP: "server.plain_http",
  NMSLITE_TLS_CERT_FILE: "server.cert_file",
  NMSLITE_TLS_KEY_FILE: "server.key_file",
  NMSLITE_BODY_LIMIT_BYTES: "server.body_limit_bytes",
  NMSLITE_HEADER_TIMEOUT: "server.header_timeout_ms",
  NMSLITE_IDLE_TIMEOUT: "server.idle_timeout_ms",
  NMSLITE_MAX_CONNECTIONS: "server.max_connections",
  NMSLITE_MAX_CONNECTIONS_PER_IP: "server.max_connections_per_ip",
  NMSLITE_TRUSTED_PROXIES: "server.trusted_proxies",
  NMSLITE_DATA_DIR: "data_dir",
  DATABASE_URL: "database.url",
  NMSLITE_DATABASE_URL: "database.url",
  NMSLITE_DB_MAX_CONNECTIONS: "database.max_connections",
  NMSLITE_JWT_SECRET: "auth.jwt_secret",
  NMSLITE_ACCESS_TOKEN_TTL: "auth.access_token_ttl_ms",
  NMSLITE_REFRESH_TOKEN_TTL: "auth.refresh_token_ttl_ms",
  NMSLITE_BCRYPT_COST: "auth.bcrypt_cost",
  NMSLITE_LOGIN_MAX_FAILURES: "auth.login_max_failures",
  NMSLITE_LOGIN_LOCKOUT: "auth.login_lockout_ms",
  NMSLITE_ADMIN_USERNAME: "admin.username",
  NMSLITE_ADMIN_PASSWORD: "admin.password",
  NMSLITE_MASTER_KEY: "encryption.master_key",
  NMSLITE_MASTER_KEY_PREVIOUS: "encryption.previous_keys",
  NMSLITE_METRICS_RETENTION_DAYS: "metrics.retention_days",
  NMSLITE_METRICS_PROCESS_RETENTION_DAYS: "metrics.process_retention_days",
  NMSLITE_METRICS_EVENT_RETENTION_DAYS: "metrics.event_retention_days",
  NMSLITE_LOG_LEVEL: "log.level",
  NMSLITE_POLLING_ENABLED: "polling.enabled",
  NMSLITE_POLLERS: "polling.pollers",
  NMSLITE_POLLER_CONCURRENCY: "polling.concurrency",
  NMSLITE_POLLER_MAX_QUEUED: "polling.max_queued",
  NMSLITE_POLLER_QUEUE_BURST: "polling.queue_burst_ms",
  NMSLITE_POLL_PER_HOST_LIMIT: "polling.per_host_limit",
  NMSLITE_POLL_TIMEOUT: "polling.timeout_ms",
  NMSLITE_POLL_RETRIES: "polling.retries",
  NMSLITE_POLL_RETRY_BACKOFF: "polling.retry_backoff_ms",
  NMSLITE_WINRM_PIPELINING: "polling.winrm_pipelining",
  NMSLITE_CREDENTIAL_CACHE_TTL: "polling.credential_ttl_ms",
  NMSLITE_QUEUE_PATH: "polling.queue_path",
  NMSLITE_DISCOVERY_CONCURRENCY: "discovery.concurrency",
  NMSLITE_DISCOVERY_PROBE_TIMEOUT: "discovery.probe_timeout_ms",
  NMSLITE_DISCOVERY_IDENTIFY_CONCURRENCY: "discovery.identify_concurrency",
  NMSLITE_DISCOVERY_IDENTIFY_TIMEOUT: "discovery.identify_timeout_ms",
  NMSLITE_DISCOVERY_PING: "discovery.ping",
  NMSLITE_PLUGIN_DIR: "plugins.dir",
  NMSLITE_HEALTH_FAILURE_WINDOW: "health.failure_window_ms",
  NMSLITE_HEALTH_FAILURE_THRESHOLD: "health.failure_threshold",
  NMSLITE_HEALTH_REACTIVATE_AFTER: "health.reactivate_after_ms",
  NMSLITE_HEALTH_PROBE_INTERVAL: "health.probe_interval_ms",
  NMSLITE_ROLE: "role",
  NMSLITE_KERBEROS_ALLOW_RC4: "kerberos.allow_rc4",
  NMSLITE_NODE_ENROLMENT_TTL: "nodes.enrolment_ttl_ms",
  NMSLITE_NODE_HEARTBEAT: "nodes.heartbeat_ms",
  NMSLITE_NODE_HEARTBEAT_TIMEOUT: "nodes.heartbeat_timeout_ms",
  NMSLITE_INGEST_MAX_ROWS: "nodes.ingest_max_rows",
  NMSLITE_INGEST_MAX_FUTURE: "nodes.ingest_max_future_ms",
  NMSLITE_ALERTING_TICK: "alerting.tick_ms",
  NMSLITE_ALERTING_RECOVERY_HOLD: "alerting.recovery_hold_ms",
  NMSLITE_ALERTING_RETRY_BASE: "alerting.retry_base_ms",
  NMSLITE_ALERTING_RETRY_MAX: "alerting.retry_max_ms",
  NMSLITE_ALERTING_MAX_ATTEMPTS: "alerting.max_attempts",
  NMSLITE_ALERTING_ALLOW_LINK_LOCAL: "alerting.allow_link_local",
  NMSLITE_ALERTING_PUBLIC_URL: "alerting.public_url",
};

/** Flag aliases besides the dotted config paths (`--server.port 8443`). */
const FLAG_ALIASES: Record<string, string> = {
  port: "server.port",
  host: "server.host",
  "plain-http": "server.plain_http",
  "data-dir": "data_dir",
  "database-url": "database.url",
  "log-level": "log.level",
  "tls-cert": "server.cert_file",
  "tls-key": "server.key_file",
  "plugin-dir": "plugins.dir",
};

/** Config paths whose values are secrets: never echoed in an error message. */
const SECRET_PATHS = new Set([
  "auth.jwt_secret",
  "admin.password",
  "encryption.master_key",
  "encryption.previous_keys",
  "database.url",
]);

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(args: string[], env: Record<string, string | undefined>): Config {
  const flags = parseFlags(args);
  const file = flags.config ?? env.NMSLITE_CONFIG;
  delete flags.config;
  const merged: Record<string, unknown> = file ? readConfigFile(file) : {};
  for (const [name, path] of Object.entries(ENV_NAMES)) {
    const value = env[name];
    if (value !== undefined && value !== "") setPath(merged, path, value);
  }
  for (const [flag, value] of Object.entries(flags)) {
    const path = FLAG_ALIASES[flag] ?? flag;
    if (!ConfigPaths.has(path)) throw new ConfigError(`unknown flag --${flag}`);
    setPath(merged, path, value);
  }
  const parsed = ConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const path = issue.path.join(".");
      return `  ${path}: ${
        SECRET_PATHS.has(path) ? issue.message.replace(/".*"/, "(hidden)") : issue.message
      }`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
  }
  if (parsed.data.role === "central") checkCentral(parsed.data);
  return parsed.data;
}

/** The central role keeps nothing on local disk: its database and secrets come from outside. */
function checkCentral(config: Config): void {
  const missing = [
    ["database.url (DATABASE_URL)", config.database.url],
    ["auth.jwt_secret (NMSLITE_JWT_SECRET)", config.auth.jwt_secret],
    ["encryption.master_key (NMSLITE_MASTER_KEY)", config.encryption.master_key],
  ].filter(([, v]) => !v).map(([name]) => name);
  if (missing.length) {
    throw new ConfigError(
      `the central role writes no local files and needs: ${missing.join(", ")}`,
    );
  }
  if (!config.server.plain_http && !config.server.cert_file) {
    throw new ConfigError(
      "the central role needs a TLS certificate file (--tls-cert/--tls-key) or --plain-http " +
        "behind a TLS-terminating proxy: it creates no self-signed certificate",
    );
  }
}

const ConfigPaths = new Set<string>(
  Object.entries(ConfigSchema.shape).flatMap(([key, schema]) => {
    const inner = (schema as unknown as { def?: { innerType?: { shape?: object } } }).def
      ?.innerType?.shape;
    return inner ? Object.keys(inner).map((k) => `${key}.${k}`) : [key];
  }),
);

function parseFlags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const rest = args[0] === "--" ? args.slice(1) : args;
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf("=");
    if (eq > 0) {
      out[arg.slice(2, eq)] = arg.slice(eq + 1);
    } else if (i + 1 < rest.length && !rest[i + 1].startsWith("--")) {
      out[arg.slice(2)] = rest[++i];
    } else {
      out[arg.slice(2)] = "true";
    }
  }
  return out;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = path.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`config file ${path} must hold a mapping of settings`);
  }
  return structuredClone(doc) as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "ms"]);
}
