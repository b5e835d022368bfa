/**
 * The entity services: each owns its validation beyond the schema, the transaction, the audit
 * record and the change event. The API routes and the dashboard pages call the same ones.
 */
import type { Keyring } from "../crypto/secrets.ts";
import type { DiscoveryService } from "../discovery/discovery.ts";
import { DevicesService, type PollNow } from "./devices.ts";
import { MonitorsService } from "./monitors.ts";
import { CredentialProfilesService } from "./credential_profiles.ts";
import { DiscoveryProfilesService, DiscoveryRunsService } from "./discovery.ts";
import { type AccessRevoker, UsersService } from "./users.ts";
import { PluginsService } from "./plugins.ts";
import { MetricsService } from "./metrics.ts";
import { DeviceDepthService } from "./device_depth.ts";
import type { ServiceDeps } from "./service.ts";
import type { WinrmOverrides } from "../winrm/mod.ts";
import { SitesService } from "./sites.ts";
import { PollerNodesService } from "./poller_nodes.ts";
import type { NodeWork } from "./credential_profiles.ts";
import {
  type AlertingReload,
  AlertRulesService,
  DeviceTagsService,
  MaintenanceService,
  ProblemsService,
} from "./alerting.ts";
import {
  type ChannelKinds,
  NotificationChannelsService,
  NotificationPoliciesService,
} from "./notifications.ts";

export { DevicesService } from "./devices.ts";
export { MonitorsService } from "./monitors.ts";
export { CredentialProfilesService } from "./credential_profiles.ts";
export { DiscoveryProfilesService, DiscoveryRunsService } from "./discovery.ts";
export { type AccessRevoker, UsersService } from "./users.ts";
export { PluginsService } from "./plugins.ts";
export { MetricsService } from "./metrics.ts";
export { DeviceDepthService } from "./device_depth.ts";
export { deviceLifecycle } from "../inventory/device_lifecycle.ts";
export { ServiceError } from "./errors.ts";

export interface Services {
  devices: DevicesService;
  monitors: MonitorsService;
  credentialProfiles: CredentialProfilesService;
  discoveryProfiles: DiscoveryProfilesService;
  discoveryRuns: DiscoveryRunsService;
  users: UsersService;
  plugins: PluginsService;
  metrics: MetricsService;
  sites: SitesService;
  pollerNodes: PollerNodesService;
  deviceDepth: DeviceDepthService;
  alertRules: AlertRulesService;
  deviceTags: DeviceTagsService;
  problems: ProblemsService;
  maintenance: MaintenanceService;
  notificationChannels: NotificationChannelsService;
  notificationPolicies: NotificationPoliciesService;
}

export interface ServicesDeps extends ServiceDeps {
  keyring: Keyring;
  discovery: DiscoveryService;
  tokens: AccessRevoker;
  bcryptCost: number;
  /** the running pipeline, for "poll now" (undefined when this process does not poll) */
  polling: () => PollNow | undefined;
  /** WinRM client options for testing a credential profile (pipelining) */
  winrm?: WinrmOverrides;
  /** where exec plugins must live (plugins.dir) */
  pluginDir: string;
  /** how long a poller node's enrolment token stays valid */
  enrolmentTtlMs?: number;
  /** runs work (credential tests) on a poller node of a site */
  nodes?: () => NodeWork;
  /** the running alert evaluation, reloaded after a change (undefined when it does not run) */
  alerting?: () => AlertingReload | undefined;
  /** the notification channel implementations (validation and senders) */
  channels?: () => ChannelKinds | undefined;
}

export function createServices(deps: ServicesDeps): Services {
  const { db, events } = deps;
  return {
    devices: new DevicesService({ db, events, polling: deps.polling }),
    monitors: new MonitorsService({ db, events }),
    credentialProfiles: new CredentialProfilesService({
      db,
      events,
      keyring: deps.keyring,
      winrm: deps.winrm,
      nodes: deps.nodes,
    }),
    discoveryProfiles: new DiscoveryProfilesService({ db, events }),
    discoveryRuns: new DiscoveryRunsService({ db, events, discovery: deps.discovery }),
    users: new UsersService({ db, events, tokens: deps.tokens, bcryptCost: deps.bcryptCost }),
    plugins: new PluginsService({ db, events, pluginDir: deps.pluginDir }),
    metrics: new MetricsService({ db }),
    sites: new SitesService({ db, events }),
    pollerNodes: new PollerNodesService({
      db,
      events,
      enrolmentTtlMs: deps.enrolmentTtlMs ?? 24 * 3_600_000,
    }),
    deviceDepth: new DeviceDepthService({ db }),
    ...alertingServices(deps),
  };
}

function alertingServices(deps: ServicesDeps) {
  const a = { db: deps.db, events: deps.events, alerting: deps.alerting ?? (() => undefined) };
  return {
    alertRules: new AlertRulesService(a),
    deviceTags: new DeviceTagsService(a),
    problems: new ProblemsService(a),
    maintenance: new MaintenanceService(a),
    notificationChannels: new NotificationChannelsService({
      ...a,
      keyring: deps.keyring,
      channels: deps.channels ?? (() => undefined),
    }),
    notificationPolicies: new NotificationPoliciesService(a),
  };
}
