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
import { checkHealth, type HealthReport } from "./health_check.ts";
import {
  type PollerLoad,
  pollerSaturation,
  renderSelfMetrics,
} from "./observability/self_metrics.ts";
import { createServices, type Services } from "./services/mod.ts";

export interface ComposeOptions {
  /** start the queue, writer, scheduler, pollers and health monitor (needs `workers`) */
  monitoring?: boolean;
  workers?: WorkerUrls;
  /** the results queue's Deno KV file; default polling.queue_path or <data_dir>/queue.kv */
  queuePath?: string;
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
  version: string;
  startedAt: Date;
  health(): Promise<HealthReport>;
  selfMetrics(): Promise<string>;
  /** the poller Workers' saturation; null when this process does not poll */
  pollerLoad(): PollerLoad | null;
  /** Stops discovery and monitoring, then closes the database. */
  close(): Promise<void>;
}

export async function compose(config: Config, opts: ComposeOptions = {}): Promise<System> {
  const { db, keyring, jwtSecret } = await bootstrap(config);
  const events = new EntityEvents();
  const d = config.discovery;
  const winrm = { pipelining: config.polling.winrm_pipelining };
  const identify = hostIdentifier(winrm);
  const discovery = new DiscoveryService(db, keyring, identify, {
    concurrency: d.concurrency,
    probeTimeoutMs: d.probe_timeout_ms,
    identifyConcurrency: d.identify_concurrency,
    identifyTimeoutMs: d.identify_timeout_ms,
    ping: d.ping,
  });
  let monitoring: MonitoringRuntime | undefined;
  if (opts.monitoring) {
    if (!opts.workers) throw new Error("monitoring needs the Worker URLs");
    monitoring = new MonitoringRuntime({
      db,
      keyring,
      events,
      workers: opts.workers,
      settings: config,
      queuePath: opts.queuePath ?? config.polling.queue_path ?? `${config.data_dir}/queue.kv`,
    });
    try {
      await monitoring.start();
    } catch (err) {
      await monitoring.stop().catch(() => {});
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
  });
  const startedAt = new Date();
  const sources = {
    db,
    version: VERSION,
    startedAt,
    get monitoring() {
      return system.monitoring;
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
    version: VERSION,
    startedAt,
    health: () => checkHealth(sources),
    selfMetrics: () => renderSelfMetrics(sources),
    pollerLoad: () =>
      system.monitoring
        ? pollerSaturation(
          system.monitoring.pipeline.stats().pollers,
          system.monitoring.pipeline.stats().shed,
        )
        : null,
    async close() {
      await discovery.stopAll();
      await system.monitoring?.stop();
      await db.close();
    },
  };
  return system;
}
