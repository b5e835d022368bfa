/**
 * The built-in Windows collector over WMI/DCOM, for hosts reached with a `wmi` credential
 * profile (TCP 135 plus the dynamic RPC range, no WinRM): the same WQL as the WinRM collector
 * for every collection profile (lib/collectors/collection_profile.ts), into the same metrics
 * document and identity, so charts, alerting and the depth pages work unchanged. The host's client is kept between polls (lib/wmi/pool.ts): a poll on a
 * kept connection is ExecQuery + Next + RemRelease per query, sealed, on one TCP connection.
 * Queries run in turn; a class the host lacks or denies leaves its part out (`doc.partial`),
 * and a failed logon ends the poll, so a wrong password costs one failed logon a poll.
 */
import type { MetricsDocument } from "./metrics_document.ts";
import {
  collectProfile,
  type PollCollection,
  type ProfilePoll,
  type SettledSource,
  type WindowsIdentity,
  windowsIdentity,
  WQL,
} from "./windows_winrm.ts";
import { resolveCollection } from "./collection_profile.ts";
import {
  type WmiClient,
  wmiClientFromCredential,
  type WmiClientOptions,
  type WmiCredential,
  WmiTimeoutError,
} from "../wmi/mod.ts";
import type { WmiItem } from "../winrm/mod.ts";

export type WmiOverrides = Partial<WmiClientOptions>;

/** Runs `work` on the client; the poll's deadline drops the connection so a query ends too. */
async function bounded<T>(client: WmiClient, work: () => Promise<T>, signal?: AbortSignal) {
  signal?.throwIfAborted();
  const started = performance.now();
  const running = work();
  if (!signal) return await running;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      client.abort();
      reject(new WmiTimeoutError("query", Math.round(performance.now() - started)));
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([running, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** The profile's queries over DCOM, one after another on the kept session. */
function settledSource(client: WmiClient): SettledSource {
  return {
    enumerateAllSettled: (queries, opts) =>
      bounded(
        client,
        () => client.queryAllSettled(queries) as ReturnType<SettledSource["enumerateAllSettled"]>,
        opts?.signal,
      ),
  };
}

/** One poll with a collection profile: the same queries and document as over WinRM. */
export function collectWmiProfile(
  client: WmiClient,
  collection: PollCollection,
  signal?: AbortSignal,
): Promise<ProfilePoll> {
  return collectProfile(settledSource(client), collection, signal);
}

export async function collectWmi(
  client: WmiClient,
  signal?: AbortSignal,
): Promise<MetricsDocument> {
  return (await collectWmiProfile(client, resolveCollection(null), signal)).doc;
}

export async function identifyWmi(
  client: WmiClient,
  signal?: AbortSignal,
): Promise<WindowsIdentity> {
  const rows = await bounded(
    client,
    () => client.queryAll([WQL.os, WQL.computer, WQL.bios]) as Promise<WmiItem[][]>,
    signal,
  );
  return windowsIdentity(rows);
}

/** One poll of `ip` with a decrypted `wmi` credential, on the host's kept client. */
export function collectWmiDocument(
  ip: string,
  credential: WmiCredential,
  signal: AbortSignal,
  options: WmiOverrides = {},
  collection: PollCollection = resolveCollection(null),
): Promise<ProfilePoll> {
  return collectWmiProfile(wmiClientFromCredential(ip, credential, options), collection, signal);
}

export function identifyWindowsWmi(
  ip: string,
  credential: WmiCredential,
  signal?: AbortSignal,
  options: WmiOverrides = {},
): Promise<WindowsIdentity> {
  return identifyWmi(wmiClientFromCredential(ip, credential, options), signal);
}
