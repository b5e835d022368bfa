/**
 * Every message that crosses an isolate boundary (main <-> scheduler Worker <-> poller
 * Workers) or goes through the Deno KV queue. Plain JSON-serialisable data only.
 */

// ---- scheduler ---------------------------------------------------------------------------

/** What the scheduler needs to know about a monitor to fire it. */
export interface ScheduledMonitor {
  monitorId: number;
  deviceId: number;
  deviceIp: string;
  /** the device's host name, when known (Kerberos names the service principal after it) */
  deviceHostname?: string | null;
  credentialProfileId: number;
  pluginId: number;
  intervalS: number;
  /** the monitor's collection config (lib/collectors/collection_profile.ts); absent: defaults */
  config?: Record<string, unknown> | null;
}

/** main -> scheduler */
export type SchedulerCommand =
  | { type: "load"; monitors: ScheduledMonitor[] } // replaces the whole set
  | { type: "upsert"; monitor: ScheduledMonitor } // new or changed; takes effect at once
  | { type: "remove"; monitorId: number } // deleted, disabled, or its device paused
  // many upserts and removes in one message (a bulk change): each as above, the timer re-armed once
  | { type: "change"; upserts: ScheduledMonitor[]; removes: number[] }
  | { type: "stats" }
  | { type: "stop" };

/** scheduler -> main */
export type SchedulerEvent =
  | { type: "due"; jobs: PollJob[] }
  | { type: "stats"; stats: SchedulerStats };

export interface SchedulerStats {
  monitors: number;
  fired: number;
  /** fire time minus due time, ms, over the last window */
  lagP50Ms: number;
  lagP99Ms: number;
  lagMaxMs: number;
  /** deadlines missed by more than one interval and run once late instead of in a burst */
  skipped: number;
}

// ---- polling -----------------------------------------------------------------------------

export interface PollJob {
  monitorId: number;
  deviceId: number;
  deviceIp: string;
  /** the device's host name, when known (Kerberos names the service principal after it) */
  deviceHostname?: string | null;
  credentialProfileId: number;
  pluginId: number;
  /** epoch ms the poll was due */
  dueAt: number;
  intervalS: number;
  /** the monitor's collection config; absent: defaults (the standard profile) */
  config?: Record<string, unknown> | null;
}

/** The plugin a poller runs, resolved by main from the plugins table. */
export interface PluginSpec {
  id: number;
  name: string;
  type: "builtin" | "exec";
  config: Record<string, unknown>;
}

/** Decrypted credential handed to a poller on request; cached there for a TTL. */
export interface Credential {
  id: number;
  type: "winrm_basic" | "winrm_ntlm" | "winrm_kerberos" | "wmi";
  username: string;
  password: string;
  domain: string | null;
  port: number;
  useSsl: boolean;
  tlsVerify: "system" | "pinned" | "insecure";
  tlsCaPem: string | null;
  allowUnencrypted: boolean;
  /** winrm_kerberos: realm, KDCs ("host[:port]"; none: DNS SRV), SPN choice (null: host name) */
  kerberosRealm?: string | null;
  kerberosKdcs?: string[];
  kerberosSpn?: string | null;
  /** updated_at of the profile: a poller drops its cached copy when this changes */
  version: string;
}

export interface VolumeSample {
  name: string;
  total: number;
  used: number;
}

export interface InterfaceSample {
  name: string;
  sentBps: number;
  recvBps: number;
  packetsSent: number;
  packetsRecv: number;
  errors: number;
  discards: number;
  /** interface bandwidth, bits/s */
  bandwidthBps: number | null;
  utilization: number | null;
}

/** One row of the `metrics` table. Bytes as numbers (exact below 2^53 = 8 PiB). */
export interface MetricSample {
  monitorId: number;
  /** epoch ms */
  ts: number;
  cpuPercent: number | null;
  memoryTotal: number | null;
  memoryUsed: number | null;
  diskTotal: number | null;
  diskUsed: number | null;
  netSentBps: number | null;
  netRecvBps: number | null;
  netPacketsSent: number | null;
  netPacketsRecv: number | null;
  netErrors: number | null;
  netDiscards: number | null;
  netUtilization: number | null;
  processCount: number | null;
  collectionMs: number | null;
  volumes: VolumeSample[] | null;
  interfaces: InterfaceSample[] | null;
  // ---- extended and full collection profiles (absent on a standard poll) ----
  uptimeS?: number;
  /** epoch ms of LastBootUpTime (host clock) */
  bootTime?: number;
  pageFileTotal?: number;
  pageFileUsed?: number;
  processorQueue?: number;
  contextSwitchesPs?: number;
  cpuCores?: { name: string; percent: number }[];
  physicalDisks?: PhysicalDiskSample[];
  /** every service; sent when the set changed or every few minutes, else absent */
  services?: ServiceSample[];
  processes?: ProcessSample[];
  /** every running process's name (for "process not running" rules; not stored) */
  processNames?: string[];
  events?: EventLogSample[];
  /** parts the host could not give; the poll still counts as a success */
  partial?: { part: string; class: string; reason: string }[];
}

/** MetricSample's numeric totals (number | null), in the order of the interface. */
export const SAMPLE_NUMBER_FIELDS = [
  "cpuPercent",
  "memoryTotal",
  "memoryUsed",
  "diskTotal",
  "diskUsed",
  "netSentBps",
  "netRecvBps",
  "netPacketsSent",
  "netPacketsRecv",
  "netErrors",
  "netDiscards",
  "netUtilization",
  "processCount",
  "collectionMs",
] as const satisfies readonly (keyof MetricSample)[];

export interface PhysicalDiskSample {
  name: string;
  readsPs: number;
  writesPs: number;
  readBps: number;
  writeBps: number;
  queue: number;
  secPerTransfer: number;
}

export interface ServiceSample {
  name: string;
  displayName: string;
  state: string;
  startMode: string;
}

export interface ProcessSample {
  name: string;
  pid: number;
  /** share of the whole machine; null when the host has no process counters */
  cpuPercent: number | null;
  /** working set, bytes */
  memory: number;
  threads: number;
  handles: number;
}

export interface EventLogSample {
  log: string;
  record: number;
  /** epoch ms of TimeGenerated */
  ts: number;
  source: string;
  eventId: number;
  level: "critical" | "error";
  message: string;
}

/** How one poll (with its retries) ended. */
export interface PollOutcome {
  monitorId: number;
  deviceId: number;
  ok: boolean;
  attempts: number;
  /** epoch ms of the last attempt */
  attemptedAt: number;
  /** epoch ms the poll was due (for scheduler-to-row latency) */
  dueAt: number;
  durationMs: number;
  /** the last attempt's error, when !ok; never contains a secret */
  error?: string;
  errorKind?: string;
  /** why, in a few classes (lib/polling/failure_class.ts), when !ok */
  errorClass?: string;
}

/**
 * Many results together: what a poller Worker puts in one Deno KV queue message (KV delivers
 * ~1,000 messages/s; lib/queue/results_queue.ts writes it positionally, as version 2) and what
 * a poller node sends the central in an ingest request (as this JSON).
 */
export interface ResultBatch {
  v: 1;
  batchId: string;
  samples: MetricSample[];
  outcomes: PollOutcome[];
}

/** main -> poller */
export type PollerCommand =
  | {
    type: "init";
    workerId: number;
    kvPath: string | null;
    concurrency: number;
    perHostLimit: number;
    pollTimeoutMs: number;
    retries: number;
    retryBackoffMs: number;
    /** polls that may wait for a slot (absent: derived from concurrency, lib/polling/poller.ts) */
    maxQueued?: number;
    /** how long a queue past maxQueued counts as a burst (absent: DEFAULT_QUEUE_BURST_MS) */
    queueBurstMs?: number;
    credentialTtlMs: number;
    winrmPipelining: boolean;
    /** kerberos.allow_rc4 (absent: false) */
    kerberosAllowRc4?: boolean;
    /** where exec plugins must live (plugins.dir); without it exec plugins are refused */
    pluginDir?: string;
    /** WinRM connections this Worker may hold open (its descriptor budget; absent: unbounded) */
    winrmConnections?: number;
    /** longest a result waits in the Worker before it is enqueued (absent: 500 ms) */
    resultDelayMs?: number;
  }
  | { type: "poll"; job: PollJob; plugin: PluginSpec }
  /** the polls of one scheduler tick for this Worker, in one message (fewer wakeups) */
  | { type: "polls"; polls: { job: PollJob; plugin: PluginSpec }[] }
  | { type: "credential"; requestId: number; credential: Credential | null; error?: string }
  | { type: "credential-changed"; credentialProfileId: number }
  /** monitors deleted, disabled or paused: their polls still waiting are dropped */
  | { type: "forget"; monitorIds: number[] }
  | { type: "stats" }
  | { type: "stop" };

/** poller -> main */
export type PollerEvent =
  | { type: "credential-request"; requestId: number; credentialProfileId: number }
  | { type: "stats"; stats: PollerStats }
  /**
   * monitors whose poll left the Worker (finished, or refused when submitted), reported every
   * few ms in one message: the main isolate counts what each Worker holds against its capacity
   */
  | { type: "finished"; monitorIds: number[] }
  | { type: "stopped" };

/**
 * A Worker's slow pool (lib/polling/poller.ts): hosts whose last poll timed out, polls in the
 * pool, the lane (below which timed-out hosts' polls start) and the pool's size; and, as
 * counters, polls moved into the pool while running and polls that ended at a timeout without
 * their retries because the pool was full (absent from an older Worker)
 */
export interface SlowStats {
  hosts: number;
  inFlight: number;
  lane: number;
  pool: number;
  moved?: number;
  cutShort?: number;
}

export interface PollerStats {
  workerId: number;
  inFlight: number;
  queued: number;
  /**
   * polls in the slots or waiting for one (not those to silent hosts: lib/polling/poller.ts),
   * now; absent from an older Worker: inFlight + queued
   */
  load?: number;
  /** that load, averaged over time since the Worker's previous report */
  loadAverage?: number;
  /** that load, integrated over time since the Worker started (poll-ms) */
  loadMs?: number;
  /** polls that may run at once, and wait, in this Worker */
  concurrency?: number;
  maxQueued?: number;
  /** due polls dropped: the monitor's previous poll still queued or running, or queue full */
  skipped?: { busy: number; queue_full: number };
  polls: { ok: number; failed: number; retried: number };
  /** poll duration histogram bucket counts, upper bounds in ms (Prometheus style) */
  durationBuckets: Record<string, number>;
  durationSumMs: number;
  enqueuedBatches: number;
  /** failed polls by class (lib/polling/failure_class.ts) */
  failedByClass?: Record<string, number>;
  /**
   * hosts whose last poll timed out, polls in the slow pool, the lane (below which timed-out
   * hosts' polls start) and the pool's size (lib/polling/poller.ts)
   */
  slow?: SlowStats;
  /** the Worker's WinRM connections against its descriptor budget */
  connections?: {
    max: number;
    open: number;
    idle: number;
    waiting: number;
    evicted: number;
    /** EMFILE/ENFILE on connect despite the budget (absent from an older Worker) */
    exhausted?: number;
  };
}
