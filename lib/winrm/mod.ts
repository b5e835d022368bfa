/** Public surface of the WinRM client, plus the builder from a stored credential profile. */
import type { Credential } from "../messages.ts";
import { WinrmClient, type WinrmClientOptions } from "./client.ts";
import { ConfigError } from "./errors.ts";

export {
  type ClientCounters,
  type EnumerateOptions,
  setDefaultPipelining,
  WinrmClient,
} from "./client.ts";
export type { WinrmClientOptions, WinrmTimeouts } from "./client.ts";
export * from "./errors.ts";
export { DEFAULT_ENUMERATION_LIMITS, type EnumerationLimits } from "./enumerate.ts";
export { asArray, numProp, prop, strProp, type WmiItem, type WmiValue } from "./parse.ts";
export { closeSharedPools, type PoolStats, sharedPoolStats } from "./pool.ts";

/**
 * A client for `host` with a decrypted credential profile. Clients built this way share
 * the process-wide pool by default, so consecutive polls of a device reuse a warm
 * (already authenticated) connection.
 */
export function clientFromCredential(
  host: string,
  cred: Credential,
  overrides: Partial<WinrmClientOptions> = {},
): WinrmClient {
  if (cred.type !== "winrm_basic" && cred.type !== "winrm_ntlm") {
    throw new ConfigError(`credential type ${cred.type} is not a WinRM credential`);
  }
  return new WinrmClient({
    host,
    port: cred.port || undefined,
    https: cred.useSsl,
    auth: cred.type === "winrm_basic" ? "basic" : "ntlm",
    username: cred.username,
    password: cred.password,
    domain: cred.domain,
    tls: { verify: cred.tlsVerify, caPem: cred.tlsCaPem ?? undefined },
    allowUnencrypted: cred.allowUnencrypted,
    shared: true,
    ...overrides,
  });
}
