/**
 * The WMI-over-DCOM package's face: the client, its errors, the shared client set, and the
 * builder from a stored `wmi` credential profile. Code outside lib/wmi imports from here
 * (the simulator, a server, reaches into the codec modules on purpose).
 */
import { type WmiClient, type WmiClientOptions } from "./client.ts";
import { WmiConfigError } from "./errors.ts";
import { sharedWmiClient } from "./pool.ts";

export { dmtfToDate, WmiClient } from "./client.ts";
export type {
  WmiClientOptions,
  WmiQueryLimits,
  WmiRow,
  WmiRowValue,
  WmiTimeouts,
} from "./client.ts";
export * from "./errors.ts";
export { closeSharedWmiClients, sharedWmiClient, sharedWmiClientCount } from "./pool.ts";

/** What a stored credential profile carries for WMI (the app's `Credential` fits it). */
export interface WmiCredential {
  type: string;
  username: string;
  password: string;
  domain?: string | null;
  /** activation port; 0 or absent: 135 */
  port?: number | null;
}

/** The shared (connection-keeping) client for `host` with a decrypted `wmi` profile. */
export function wmiClientFromCredential(
  host: string,
  cred: WmiCredential,
  overrides: Partial<WmiClientOptions> = {},
): WmiClient {
  if (cred.type !== "wmi") {
    throw new WmiConfigError(`credential type ${cred.type} is not a WMI credential`);
  }
  // a WinRM default port stored on the profile means "not set" here
  const port = cred.port && cred.port !== 5985 && cred.port !== 5986 ? cred.port : 135;
  return sharedWmiClient({
    host,
    port,
    username: cred.username,
    password: cred.password,
    domain: cred.domain,
    ...overrides,
  });
}
