/**
 * Discovery's view of a Windows host: `identifyWindows` over the credential profile, shaped
 * as the device fields discovery stores. A host that answers WinRM without a name is refused
 * rather than stored nameless.
 */
import type { Credential } from "../messages.ts";
import type { HostIdentity } from "../discovery/discovery.ts";
import { identifyWindows } from "./windows_winrm.ts";

export class UnnamedHostError extends Error {
  override name = "UnnamedHostError";
  readonly kind = "protocol";
}

export async function identifyHost(
  ip: string,
  credential: Credential,
  signal: AbortSignal,
): Promise<HostIdentity> {
  const id = await identifyWindows(ip, credential, signal);
  if (!id.hostname) throw new UnnamedHostError(`${ip} answered WinRM but reported no host name`);
  return {
    hostname: id.hostname,
    domain: id.domain,
    os: id.os,
    osVersion: id.build ? `${id.version ?? ""} (build ${id.build})`.trim() : id.version,
    serial: id.serial,
    totalMemoryBytes: id.totalMemoryBytes,
  };
}
