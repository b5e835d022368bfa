/**
 * The WinRM package's face: the client, its options and errors, WMI value helpers, the shared
 * pool, and the builder from a stored credential profile. Code outside lib/winrm imports from
 * here only (the simulator, a server, reaches into the NTLM and encryption modules on purpose).
 */
import { WinrmClient, type WinrmClientOptions } from "./client.ts";
import { ConfigError } from "./errors.ts";

export { type ClientCounters, type EnumerateOptions, WinrmClient } from "./client.ts";
export type { SettledQuery, SettledResult } from "./client.ts";
export { KerberosAuthenticationError } from "./kerberos_auth.ts";
export type { WinrmClientOptions, WinrmTimeouts } from "./client.ts";
export * from "./errors.ts";
export { DEFAULT_ENUMERATION_LIMITS, type EnumerationLimits } from "./enumerate.ts";
export { asArray, numProp, prop, strProp, type WmiItem, type WmiValue } from "./parse.ts";
export { closeSharedPools, type PoolStats, sharedPoolStats } from "./pool.ts";
export {
  configureConnectionBudget,
  connectionBudget,
  type ConnectionBudgetStats,
} from "./budget.ts";
export type { TlsOptions } from "./tls_verify.ts";

/**
 * What a stored credential profile must carry for WinRM. The app's `Credential`
 * (lib/messages.ts) fits it as it is; `tlsFingerprint` is for a profile that pins the
 * server's certificate by its SHA-256 fingerprint (comma-separated for several).
 */
export interface WinrmCredential {
  type: string;
  username: string;
  password: string;
  domain?: string | null;
  /** 0 or absent: 5985, or 5986 with useSsl */
  port?: number | null;
  useSsl: boolean;
  tlsVerify: "system" | "pinned" | "insecure";
  tlsCaPem?: string | null;
  tlsFingerprint?: string | null;
  allowUnencrypted: boolean;
  /** winrm_kerberos: realm, KDCs ("host[:port]"; none: DNS SRV), SPN choice (null: host name) */
  kerberosRealm?: string | null;
  kerberosKdcs?: string[];
  kerberosSpn?: string | null;
}

/** Options a caller passes through to every client it builds (e.g. polling settings). */
export type WinrmOverrides = Partial<WinrmClientOptions>;

/**
 * A client for `host` with a decrypted credential profile. Clients built this way share
 * the process-wide pool by default, so consecutive polls of a device reuse a warm
 * (already authenticated) connection.
 */
export function clientFromCredential(
  host: string,
  cred: WinrmCredential,
  overrides: WinrmOverrides = {},
  /** the device's host name when `host` is its address: Kerberos names the service after it */
  hostName?: string | null,
): WinrmClient {
  if (cred.type !== "winrm_basic" && cred.type !== "winrm_ntlm" && cred.type !== "winrm_kerberos") {
    throw new ConfigError(`credential type ${cred.type} is not a WinRM credential`);
  }
  const fingerprints = cred.tlsFingerprint?.split(",").map((f) => f.trim()).filter(Boolean);
  return new WinrmClient({
    host,
    port: cred.port || undefined,
    https: cred.useSsl,
    auth: cred.type === "winrm_basic" ? "basic" : cred.type === "winrm_ntlm" ? "ntlm" : "kerberos",
    kerberos: cred.type === "winrm_kerberos"
      ? {
        realm: cred.kerberosRealm,
        kdcs: cred.kerberosKdcs,
        spn: cred.kerberosSpn,
        hostName,
        ...overrides.kerberos,
      }
      : undefined,
    username: cred.username,
    password: cred.password,
    domain: cred.domain,
    tls: {
      verify: cred.tlsVerify,
      caPem: cred.tlsCaPem || undefined,
      fingerprints: fingerprints?.length ? fingerprints : undefined,
    },
    allowUnencrypted: cred.allowUnencrypted,
    shared: true,
    ...overrides,
    // the deployment's Kerberos settings merge into the credential's (not replace them)
    ...(cred.type === "winrm_kerberos"
      ? {
        kerberos: {
          realm: cred.kerberosRealm,
          kdcs: cred.kerberosKdcs,
          spn: cred.kerberosSpn,
          hostName,
          ...overrides.kerberos,
        },
      }
      : {}),
  });
}
