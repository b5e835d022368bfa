/**
 * What the HTTP layer and the services share in the main isolate, built once by main.ts.
 */
import type { Config } from "./config.ts";
import type { Database } from "./db/driver.ts";
import type { Keyring } from "./crypto/secrets.ts";
import type { AccessTokens } from "./auth/tokens.ts";
import type { LoginThrottle } from "./auth/login_throttle.ts";
import type { EntityEvents } from "./entity_events.ts";
import type { DiscoveryService } from "./discovery/discovery.ts";
import type { MonitoringRuntime } from "./pipeline/runtime.ts";

export interface AppContext {
  config: Config;
  db: Database;
  keyring: Keyring;
  accessTokens: AccessTokens;
  loginThrottle: LoginThrottle;
  /** userId -> epoch seconds: access tokens issued before it are refused (role change, deletion). */
  tokenRevocations: Map<number, number>;
  /** change notifications from the API to the pipeline */
  events: EntityEvents;
  startedAt: Date;
  version: string;
  /** discovery runs (absent in tools that only migrate) */
  discovery?: DiscoveryService;
  /** queue, writer, scheduler, pollers and health monitor (absent when polling is off) */
  monitoring?: MonitoringRuntime;
}

export const VERSION = "0.1.0";
