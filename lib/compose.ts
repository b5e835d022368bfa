/**
 * The composition root: from configuration to the running parts, each handed only what it
 * uses. main.ts (and the test server) call `compose`, then hand the result to the HTTP app
 * (routes/app.ts), which lib/ never imports. The Worker URLs come from the caller for the
 * same reason: lib/ never names a file under workers/.
 */
import { type Config, pluginDirOf } from "./config.ts";
import type { Database } from "./db/driver.ts";
import type { Keyring } from "./crypto/secrets.ts";
import { bootstrap } from "./bootstrap.ts";
import { VERSION } from "./version.ts";
import { EntityEvents } from "./entity_events.ts";
import { AccessTokens } from "./auth/tokens.ts";
import { LoginThrottle } from "./auth/login_throttle.ts";
import { DiscoveryService } from "./discovery/discovery.ts";
import { hostIdentifier } from "./collectors/identify_host.ts";
import { MonitoringRuntime } from "./pipeline/runtime.ts";
import type { WorkerUrls } from "./pipeline/pipeline.ts";
import { healthCheck, type HealthReport } from "./health_check.ts";
import { renderSelfMetrics } from "./observability/self_metrics.ts";
import { type PollerLoad, pollerSaturation } from "./observability/poller_load.ts";
import { createServices, type Services } from "./services/mod.ts";
import { NodeHub } from "./nodes/hub.ts";
import type { ProbeTarget } from "./health/health_monitor.ts";
import { openPorts } from "./discovery/probe.ts";
import { LOCAL_SITE_ID } from "./db/sites.ts";
import { IngestService } from "./nodes/ingest.ts";
import { MetricsWriter } from "./metrics/writer.ts";
import { openNotifier } from "./db/notify.ts";
import { EventRelay } from "./nodes/event_relay.ts";
import { CentralDuties } from "./nodes/central_duties.ts";
import { CentralHealth } from "./nodes/central_health.ts";
import { getLogger } from "@logtape/logtape";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "./alerting/runtime.ts";
import { createSender, validateChannel } from "./alerting/channels/mod.ts";
import type { ChannelKinds } from "./services/notifications.ts";

export interface ComposeOptions {
  /** start the queue, writer, scheduler, pollers and health monitor (needs `workers`) */
  monitoring?: boolean;
  workers?: WorkerUrls;
  /** the results queue's Deno KV file; default polling.queue_path or <data_dir>/queue.kv */
  queuePath?: string;
  /** the notification channel implementations; default lib/alerting/channels */
  channels?: ChannelKinds;
}

/** Everything a process serving NMSlite runs, built once. */
export interface System {
  config: Config;
  db: Database;
  keyring: Keyring;
  events: EntityEvents;
  services: Services;
  /** issues, verifies and revokes access tokens */
  accessTokens: AccessTokens;
  loginThrottle: LoginThrottle;
  discovery: DiscoveryService;
  /** absent when this process does not poll */
  monitoring?: MonitoringRuntime;
  /** alert evaluation and notification delivery; runs beside monitoring */
  alerting?: AlertingRuntime;
  version: string;
  startedAt: Date;
  health(): Promise<HealthReport>;
  selfMetrics(): Promise<string>;
  /** the poller Workers' saturation; null when this process does not poll */
  pollerLoad(): PollerLoad | null;
  /** Stops discovery and monitoring, then closes the database. */
  close(): Promise<void>;
  /** the poller nodes connected to this process (their channels and assignments) */
  nodeHub: NodeHub;
  /** result batches from poller nodes */
  ingest: IngestService;
}

const TOKENS_CHANNEL = "nmslite_tokens";
const log = getLogger(["nmslite", "central"]);

/** a node scanning for a discovery run reports at least this often, or the run fails */
const DISCOVERY_SILENCE_MS = 60_000;

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<System> {
  const { db, keyring, jwtSecret } = await bootstrap(config);
  const events = new EntityEvents();
  const d = config.discovery;
  const winrm = {
    pipelining: config.polling.winrm_pipelining,
    kerberos: { allowRc4: config.kerberos.allow_rc4 },
  };
  const identify = hostIdentifier(winrm);
  const discovery = new DiscoveryService(db, keyring, identify, {
    concurrency: d.concurrency,
    probeTimeoutMs: d.probe_timeout_ms,
    identifyConcurrency: d.identify_concurrency,
    identifyTimeoutMs: d.identify_timeout_ms,
    ping: d.ping,
  });
  let monitoring: MonitoringRuntime | undefined;
  let alerting: AlertingRuntime | undefined;
  const channels = opts.channels ?? defaultChannelKinds(config);
  const newAlerting = () => {
    const a = config.alerting;
    return new AlertingRuntime({ db, keyring, events, senders: channels.senders }, {
      tickMs: a.tick_ms,
      recoveryHoldMs: a.recovery_hold_ms,
      retentionDays: config.metrics.retention_days,
      baseUrl: a.public_url.replace(/\/$/, ""),
      outbox: {
        ...DEFAULT_ALERTING_OPTIONS.outbox,
        baseBackoffMs: a.retry_base_ms,
        maxBackoffMs: a.retry_max_ms,
        maxAttempts: a.max_attempts,
      },
    });
  };
  // Recovery probes of unreachable devices: a device of the local site from here, one of
  // another site by a live node of that site (this server may not reach it at all); with none
  // live the probe fails and the device is asked about again later.
  const served: { hub?: NodeHub } = {};
  const probe = async (device: ProbeTarget, timeoutMs: number): Promise<number[]> => {
    // (the central role polls nothing itself: its every device is probed by a node)
    if (device.site_id === LOCAL_SITE_ID && config.role !== "central") {
      return await openPorts(device.ip, device.ports, timeoutMs);
    }
    if (!served.hub) throw new Error("poller nodes are not served yet");
    const r = await served.hub.onSite(device.site_id, {
      kind: "probe",
      ip: device.ip,
      ports: device.ports,
      timeoutMs,
    }, timeoutMs + 2_000);
    if (!r.ok) throw new Error(r.error?.message ?? "the node could not probe");
    return r.result as number[];
  };
  if (opts.monitoring) {
    alerting = newAlerting();
    if (!opts.workers) throw new Error("monitoring needs the Worker URLs");
    monitoring = new MonitoringRuntime({
      db,
      keyring,
      events,
      workers: opts.workers,
      settings: config,
      queuePath: opts.queuePath ?? config.polling.queue_path ?? `${config.data_dir}/queue.kv`,
      alerting,
      probe,
    });
    try {
      await alerting.start();
      await monitoring.start();
    } catch (err) {
      await monitoring.stop().catch(() => {});
      await alerting.stop().catch(() => {});
      await db.close();
      throw err;
    }
  }
  const accessTokens = new AccessTokens(jwtSecret, config.auth.access_token_ttl_ms, db);
  const services = createServices({
    db,
    events,
    keyring,
    discovery,
    tokens: accessTokens,
    bcryptCost: config.auth.bcrypt_cost,
    winrm,
    pluginDir: pluginDirOf(config),
    polling: () => system.monitoring?.pipeline,
    enrolmentTtlMs: config.nodes.enrolment_ttl_ms,
    nodes: () => nodeHub,
    alerting: () => system.alerting,
    channels: () => channels,
  });
  const nodeHub = new NodeHub({ db, keyring, events }, {
    heartbeatMs: config.nodes.heartbeat_ms,
    heartbeatTimeoutMs: config.nodes.heartbeat_timeout_ms,
  });
  nodeHub.start();
  served.hub = nodeHub;
  // Discovery of a site other than the local one runs on a node of that site.
  discovery.useNodes({
    live: (site) => nodeHub.live(site),
    run: (site, cmd, onPartial, signal) =>
      nodeHub.onSite(site, cmd, DISCOVERY_SILENCE_MS, (r) => onPartial(r.result), signal),
  });
  // Several central processes share one PostgreSQL: changes travel between them by NOTIFY,
  // and the upkeep the all-in-one's runtime does is done once, under a lease.
  let relay: EventRelay | undefined;
  let duties: CentralDuties | undefined;
  let centralHealth: CentralHealth | undefined;
  if (config.role === "central" && config.database.url) {
    relay = new EventRelay(events, openNotifier(config.database.url));
    await relay.start();
    await nodeHub.relayCommands(relay.notifier);
    await discovery.shareCancels(relay.notifier);
    // A logout or a user change on one process evicts the cached token state on all of them.
    const origin = crypto.randomUUID();
    const notifier = relay.notifier;
    await notifier.listen(TOKENS_CHANNEL, (payload) => {
      try {
        const msg = JSON.parse(payload);
        if (msg.origin !== origin) accessTokens.forget(msg);
      } catch { /* not ours */ }
    });
    accessTokens.shareForgets((forget) =>
      void notifier.publish(TOKENS_CHANNEL, JSON.stringify({ origin, ...forget })).catch((err) =>
        log.warn("cannot tell the other central processes of a token change: {message}", {
          message: (err as Error).message,
        })
      )
    );
    duties = new CentralDuties(db, config.metrics.retention_days);
    duties.start();
    centralHealth = new CentralHealth({
      db,
      events,
      notifier: relay.notifier,
      probe,
    }, config.health);
    await centralHealth.start();
  }
  // The central role polls nothing itself: alerting runs on the node results it writes.
  // Opening a problem and claiming a notification are idempotent in SQL, so several central
  // processes may each run it.
  if (config.role === "central" && !alerting) {
    alerting = newAlerting();
    try {
      await alerting.start();
      if (relay) await alerting.shareProblems(relay.notifier);
    } catch (err) {
      await alerting.stop().catch(() => {});
      nodeHub.stop();
      duties?.stop();
      centralHealth?.stop();
      await relay?.stop();
      await db.close();
      throw err;
    }
  }
  // Node results go through the local writer when this process has one (its health monitor
  // then sees them too), else through a writer of their own that feeds alerting.
  let ingestWriter: MetricsWriter | undefined;
  const ingestAlerting = alerting;
  const ingest = new IngestService(
    db,
    () =>
      monitoring?.writer ?? (ingestWriter ??= new MetricsWriter(db, {
        onCommitted: (outcomes, _result, samples) => {
          centralHealth?.observe(outcomes);
          ingestAlerting?.committed(samples, outcomes);
        },
      })),
    {
      maxRows: config.nodes.ingest_max_rows,
      maxFutureMs: config.nodes.ingest_max_future_ms,
    },
    events,
  );
  const startedAt = new Date();
  const sources = {
    db,
    version: VERSION,
    startedAt,
    get monitoring() {
      return system.monitoring;
    },
    get alerting() {
      return system.alerting;
    },
    get ingestWriter() {
      return ingestWriter;
    },
  };
  const system: System = {
    config,
    db,
    keyring,
    events,
    services,
    accessTokens,
    loginThrottle: new LoginThrottle(config.auth.login_max_failures, config.auth.login_lockout_ms),
    discovery,
    monitoring,
    alerting,
    version: VERSION,
    startedAt,
    health: healthCheck(sources),
    selfMetrics: () => renderSelfMetrics(sources),
    pollerLoad: () =>
      system.monitoring
        ? pollerSaturation(
          system.monitoring.pipeline.stats().pollers,
          system.monitoring.pipeline.stats().shed,
        )
        : null,
    nodeHub,
    ingest,
    async close() {
      nodeHub.stop();
      duties?.stop();
      centralHealth?.stop();
      await relay?.stop();
      ingestWriter?.stop();
      await discovery.stopAll();
      await system.monitoring?.stop();
      await system.alerting?.stop();
      await db.close();
    },
  };
  return system;
}

/** The channel implementations of lib/alerting/channels, with this server's settings. */
function defaultChannelKinds(config: Config): ChannelKinds {
  const deps = { allowLinkLocal: config.alerting.allow_link_local };
  return { validate: validateChannel, senders: (channel) => createSender(channel, deps) };
}
