/**
 * The built-in Windows collector over WMI/DCOM, for hosts reached with a `wmi` credential
 * profile (TCP 135 plus the dynamic RPC range, no WinRM): the same WQL as the WinRM collector,
 * into the same metrics document and identity, so charts, alerting and collection profiles
 * work unchanged. The host's client is kept between polls (lib/wmi/pool.ts): a poll on a
 * kept connection is ExecQuery + Next + RemRelease per query, sealed, on one TCP connection.
 * Queries run in turn and the first failure ends the poll, so a wrong password costs one
 * failed logon a poll.
 */
import type { MetricsDocument } from "./metrics_document.ts";
import { windowsDocument, type WindowsIdentity, windowsIdentity, WQL } from "./windows_winrm.ts";
import {
  type WmiClient,
  wmiClientFromCredential,
  type WmiClientOptions,
  type WmiCredential,
  WmiTimeoutError,
} from "../wmi/mod.ts";
import type { WmiItem } from "../winrm/mod.ts";

export type WmiOverrides = Partial<WmiClientOptions>;

async function run(
  client: WmiClient,
  queries: string[],
  signal?: AbortSignal,
): Promise<WmiItem[][]> {
  signal?.throwIfAborted();
  const started = performance.now();
  const work = client.queryAll(queries) as Promise<WmiItem[][]>;
  if (!signal) return await work;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      // the poll's deadline passed: drop the connection so the query in flight ends too
      client.abort();
      reject(new WmiTimeoutError("query", Math.round(performance.now() - started)));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

export async function collectWmi(
  client: WmiClient,
  signal?: AbortSignal,
): Promise<MetricsDocument> {
  return windowsDocument(await run(client, [WQL.cpu, WQL.memory, WQL.disks, WQL.network], signal));
}

export async function identifyWmi(
  client: WmiClient,
  signal?: AbortSignal,
): Promise<WindowsIdentity> {
  return windowsIdentity(await run(client, [WQL.os, WQL.computer, WQL.bios], signal));
}

/** One poll of `ip` with a decrypted `wmi` credential, on the host's kept client. */
export function collectWmiDocument(
  ip: string,
  credential: WmiCredential,
  signal: AbortSignal,
  options: WmiOverrides = {},
): Promise<MetricsDocument> {
  return collectWmi(wmiClientFromCredential(ip, credential, options), signal);
}

export function identifyWindowsWmi(
  ip: string,
  credential: WmiCredential,
  signal?: AbortSignal,
  options: WmiOverrides = {},
): Promise<WindowsIdentity> {
  return identifyWmi(wmiClientFromCredential(ip, credential, options), signal);
}
