/**
 * The entity services: each owns its validation beyond the schema, the transaction, the audit
 * record and the change event. The API routes and the dashboard pages call the same ones.
 */
import { DevicesService } from "./devices.ts";
import { MonitorsService } from "./monitors.ts";
import type { ServiceDeps } from "./service.ts";

export { DevicesService } from "./devices.ts";
export { MonitorsService } from "./monitors.ts";
export { deviceLifecycle } from "./device_lifecycle.ts";
export { ServiceError } from "./errors.ts";

export interface Services {
  devices: DevicesService;
  monitors: MonitorsService;
}

export function createServices(deps: ServiceDeps): Services {
  return {
    devices: new DevicesService(deps),
    monitors: new MonitorsService(deps),
  };
}
