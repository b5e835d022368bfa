/**
 * Discovery's view of a Windows host: `identifyWindows` over the credential profile, shaped
 * as the device fields discovery stores. A host that answers WinRM without a name is refused
 * rather than stored nameless.
 */
import type { HostIdentity } from "../discovery/discovery.ts";
import type { WinrmCredential, WinrmOverrides } from "../winrm/mod.ts";
import { identifyWindows } from "./windows_winrm.ts";
import { identifyWindowsWmi } from "./windows_wmi.ts";

export class UnnamedHostError extends Error {
  override name = "UnnamedHostError";
  readonly kind = "protocol";
}

/**
 * identifyHost with the deployment's WinRM client settings (e.g. `{ pipelining }` from
 * polling.winrm_pipelining), in the shape DiscoveryService takes.
 */
export function hostIdentifier(
  options: WinrmOverrides,
): (ip: string, credential: WinrmCredential, signal: AbortSignal) => Promise<HostIdentity> {
  return (ip, credential, signal) => identifyHost(ip, credential, signal, options);
}

export async function identifyHost(
  ip: string,
  credential: WinrmCredential,
  signal: AbortSignal,
  options: WinrmOverrides = {},
): Promise<HostIdentity> {
  const wmi = credential.type === "wmi";
  const id = wmi
    ? await identifyWindowsWmi(ip, credential, signal)
    : await identifyWindows(ip, credential, signal, options);
  if (!id.hostname) {
    throw new UnnamedHostError(`${ip} answered ${wmi ? "WMI" : "WinRM"} but reported no host name`);
  }
  return {
    hostname: id.hostname,
    domain: id.domain,
    os: id.os,
    osVersion: id.build ? `${id.version ?? ""} (build ${id.build})`.trim() : id.version,
    serial: id.serial,
    totalMemoryBytes: id.totalMemoryBytes,
  };
}
