/**
 * The built-in Windows collector: WMI over WinRM, no agent.
 *
 * HTTP round trips. Every query is one WQL Enumerate with OptimizeEnumeration and
 * MaxElements 32000, so the server puts the whole result in the EnumerateResponse and no
 * Pull follows (Windows only splits a result when it exceeds MaxEnvelopeSize, 150 KiB here,
 * which a poll's results never approach). WS-Man has no batching and WQL reads one class
 * per query, so a poll is 4 requests and identify() 3:
 *
 *   collect():  Processor _Total, OperatingSystem (memory and process count:
 *               NumberOfProcesses saves a fifth query on PerfOS_System), LogicalDisk (fixed
 *               disks), Tcpip_NetworkInterface.
 *   identify(): OperatingSystem, ComputerSystem, BIOS.
 *
 * The queries are independent, so they go out pipelined on one pooled keep-alive connection
 * (WinrmClient.enumerateAll): 1 round trip a poll. A target that does not answer pipelined
 * requests is detected on its first poll and then served one request at a time (4 round
 * trips). A new connection adds the TCP (and TLS) setup, and for NTLM the handshake: over
 * HTTP 2 extra round trips (NEGOTIATE -> CHALLENGE, then an empty AUTHENTICATE leg; the
 * queries follow sealed), over HTTPS 1 (the first query rides on the AUTHENTICATE leg, the
 * others follow pipelined). Basic sends its header with every request and adds 1: the first
 * query goes alone until the server has accepted the password on the connection, so a wrong
 * password costs one failed logon, not four.
 * Connections stay in the process-wide pool between polls (idle up to 90 s), so a device
 * polled every minute or faster pays exactly 1 round trip a poll, as long as the descriptor
 * budget (lib/winrm/budget.ts) has room; past it a poll pays the handshake again.
 */
import type { MetricsDocument } from "./metrics_document.ts";
import {
  clientFromCredential,
  numProp,
  type SettledQuery,
  strProp,
  type WinrmClient,
  type WinrmCredential,
  type WinrmOverrides,
  type WmiItem,
} from "../winrm/mod.ts";
import { atLeast, resolveCollection, type ResolvedCollection } from "./collection_profile.ts";
import {
  applyBoot,
  applyCores,
  applyEvents,
  applyPageFile,
  applyPhysicalDisks,
  applyProcesses,
  applyServices,
  applySystem,
  DEPTH_WQL,
  type DiskLatencyRaws,
  diskLatencyRaws,
  eventLogWql,
  missingPart,
} from "./windows_depth.ts";

/** A poll's collection: the profile, and what the previous poll of the monitor left. */
export type PollCollection = ResolvedCollection & {
  /** host clock (epoch ms) the event log is read from */
  eventsSince?: number;
  /** the previous poll's raw disk latency counters */
  diskLatency?: DiskLatencyRaws;
};

export const WQL = {
  cpu:
    "SELECT PercentProcessorTime FROM Win32_PerfFormattedData_PerfOS_Processor WHERE Name='_Total'",
  memory:
    "SELECT TotalVisibleMemorySize, FreePhysicalMemory, NumberOfProcesses FROM Win32_OperatingSystem",
  disks: "SELECT DeviceID, Size, FreeSpace FROM Win32_LogicalDisk WHERE DriveType=3",
  network: "SELECT Name, BytesReceivedPersec, BytesSentPersec, CurrentBandwidth, " +
    "PacketsReceivedPersec, PacketsSentPersec, PacketsReceivedErrors, PacketsOutboundErrors, " +
    "PacketsReceivedDiscarded, PacketsOutboundDiscarded FROM Win32_PerfFormattedData_Tcpip_NetworkInterface",
  os:
    "SELECT Caption, Version, BuildNumber, CSName, TotalVisibleMemorySize FROM Win32_OperatingSystem",
  computer: "SELECT Name, Domain, PartOfDomain, TotalPhysicalMemory FROM Win32_ComputerSystem",
  bios: "SELECT SerialNumber FROM Win32_BIOS",
} as const;

export interface WindowsIdentity {
  hostname: string | null;
  /** Active Directory domain; null for a workgroup host */
  domain: string | null;
  /** OS caption, trimmed ("Microsoft Windows Server 2019 Standard") */
  os: string | null;
  version: string | null;
  build: string | null;
  serial: string | null;
  totalMemoryBytes: number | null;
}

export async function identify(
  client: WinrmClient,
  signal?: AbortSignal,
): Promise<WindowsIdentity> {
  return windowsIdentity(await client.enumerateAll([WQL.os, WQL.computer, WQL.bios], { signal }));
}

/** The identity from the results of WQL.os, WQL.computer and WQL.bios (WinRM or DCOM). */
export function windowsIdentity([osItems, csItems, biosItems]: WmiItem[][]): WindowsIdentity {
  const os = osItems[0] ?? {};
  const cs = csItems[0] ?? {};
  const bios = biosItems[0] ?? {};
  const visibleKb = numProp(os, "TotalVisibleMemorySize");
  return {
    hostname: strProp(cs, "Name") ?? strProp(os, "CSName"),
    domain: cs.PartOfDomain === false ? null : trimmed(strProp(cs, "Domain")),
    os: trimmed(strProp(os, "Caption")),
    version: strProp(os, "Version"),
    build: strProp(os, "BuildNumber"),
    serial: trimmed(strProp(bios, "SerialNumber")),
    totalMemoryBytes: numProp(cs, "TotalPhysicalMemory") ??
      (visibleKb === null ? null : visibleKb * 1024),
  };
}

/** The document from the results of WQL.cpu, .memory, .disks, .network (WinRM or DCOM). */
export function windowsDocument([cpuItems, osItems, disks, nics]: WmiItem[][]): MetricsDocument {
  const doc: MetricsDocument = {};
  standard(doc, cpuItems, osItems, disks, nics);
  return doc;
}

/** One standard poll: the metrics document (lib/collectors/metrics_document.ts). */
export async function collect(client: WinrmClient, signal?: AbortSignal): Promise<MetricsDocument> {
  return (await collectProfile(client, resolveCollection(null), signal)).doc;
}

/**
 * Where a profile's queries go: a WinRM client (pipelined Enumerates) or a WMI-over-DCOM one
 * (lib/collectors/windows_wmi.ts); each answers every query, a host's fault settling only its
 * own query.
 */
export interface SettledSource {
  enumerateAllSettled(
    queries: (string | SettledQuery)[],
    opts?: { signal?: AbortSignal },
  ): Promise<{ items: WmiItem[]; error?: Error; truncated?: boolean }[]>;
}

export interface ProfilePoll {
  doc: MetricsDocument;
  /** the host's clock at the poll (LocalDateTime), extended and full profiles only */
  hostTime: number | null;
  /** the disks' raw latency counters, for the next poll's exact average (extended, full) */
  diskLatency?: DiskLatencyRaws;
}

/**
 * One poll with a collection profile. A query the host answers with a fault (a class it
 * lacks, access denied) leaves its part out and names it in `doc.partial`; only when every
 * query faulted does the poll fail. `eventsSince` (host clock, epoch ms) bounds the event log.
 */
export async function collectProfile(
  client: SettledSource,
  c: PollCollection,
  signal?: AbortSignal,
): Promise<ProfilePoll> {
  const depth = atLeast(c.profile, "extended");
  const parts: [string, string | SettledQuery][] = depth
    ? [
      ["cpu", DEPTH_WQL.cores],
      ["memory", DEPTH_WQL.os],
      ["volumes", WQL.disks],
      ["interfaces", WQL.network],
      ["system", DEPTH_WQL.system],
      ["physical_disks", DEPTH_WQL.physicalDisks],
      ["disk_latency", DEPTH_WQL.physicalDisksRaw],
      ["page_file", DEPTH_WQL.pageFile],
      ["services", DEPTH_WQL.services],
      ["processes", DEPTH_WQL.processes],
    ]
    : [["cpu", WQL.cpu], ["memory", WQL.memory], ["volumes", WQL.disks], [
      "interfaces",
      WQL.network,
    ]];
  if (atLeast(c.profile, "full")) {
    const since = c.eventsSince ?? Date.now() - 60_000;
    parts.push(["events", { wql: eventLogWql(since), firstBatch: c.maxEvents }]);
  }
  const results = await client.enumerateAllSettled(parts.map(([, q]) => q), { signal });
  const failed = results.filter((r) => r.error);
  if (failed.length === results.length) throw failed[0].error;

  const doc: MetricsDocument = {};
  const partial: NonNullable<MetricsDocument["partial"]> = [];
  const got = new Map<string, WmiItem[]>();
  results.forEach((r, i) => {
    const [part, q] = parts[i];
    if (r.error) partial.push(missingPart(part, typeof q === "string" ? q : q.wql, r.error));
    else got.set(part, r.items);
  });
  const osItems = got.get("memory") ?? [];
  standard(
    doc,
    depth ? [] : got.get("cpu") ?? [],
    osItems,
    got.get("volumes"),
    got.get("interfaces"),
  );
  let hostTime: number | null = null;
  let diskRaw: DiskLatencyRaws | undefined;
  if (depth) {
    if (got.has("cpu")) applyCores(doc, got.get("cpu")!);
    hostTime = applyBoot(doc, osItems[0]);
    if (got.has("system")) applySystem(doc, got.get("system")!);
    if (got.has("disk_latency")) diskRaw = diskLatencyRaws(got.get("disk_latency")!);
    if (got.has("physical_disks")) {
      applyPhysicalDisks(
        doc,
        got.get("physical_disks")!,
        diskRaw ? { before: c.diskLatency, now: diskRaw } : undefined,
      );
    }
    if (got.has("page_file")) applyPageFile(doc, got.get("page_file")!);
    if (got.has("services")) applyServices(doc, got.get("services")!);
    const cores = doc.cpu_cores?.length || 1;
    if (got.has("processes")) {
      applyProcesses(doc, got.get("processes")!, c.topProcesses, cores, true);
    } else {
      // Without process counters Win32_Process still names them, with memory but no CPU.
      const [fallback] = await client.enumerateAllSettled([DEPTH_WQL.processesFallback], {
        signal,
      });
      if (!fallback.error) applyProcesses(doc, fallback.items, c.topProcesses, cores, false);
    }
  }
  const events = results[parts.findIndex(([p]) => p === "events")];
  if (events && !events.error) applyEvents(doc, events.items, events.truncated === true);
  if (partial.length) doc.partial = partial;
  return { doc, hostTime, ...(diskRaw ? { diskLatency: diskRaw } : {}) };
}

function standard(
  doc: MetricsDocument,
  cpuItems: WmiItem[],
  osItems: WmiItem[],
  disks: WmiItem[] | undefined,
  nics: WmiItem[] | undefined,
): void {
  const cpu = cpuItems[0];
  const os = osItems[0];

  const cpuPercent = cpu ? numProp(cpu, "PercentProcessorTime") : null;
  if (cpuPercent !== null) doc.cpu_percent = Math.min(100, Math.max(0, cpuPercent));

  const totalKb = os ? numProp(os, "TotalVisibleMemorySize") : null;
  const freeKb = os ? numProp(os, "FreePhysicalMemory") : null;
  if (totalKb !== null) {
    doc.memory_total = totalKb * 1024;
    if (freeKb !== null) doc.memory_used = Math.max(0, totalKb - freeKb) * 1024;
  }

  const volumes: NonNullable<MetricsDocument["volumes"]> = [];
  if (disks) doc.volumes = volumes;
  for (const d of disks ?? []) {
    const size = numProp(d, "Size");
    const free = numProp(d, "FreeSpace");
    if (size === null) continue; // nil on an unformatted or inaccessible volume
    volumes.push({
      name: strProp(d, "DeviceID") ?? "?",
      total: size,
      used: Math.max(0, size - (free ?? 0)),
    });
  }
  if (doc.volumes?.length) {
    doc.disk_total = sum(doc.volumes, (v) => v.total);
    doc.disk_used = sum(doc.volumes, (v) => v.used);
  }

  if (nics) doc.interfaces = nics.map(networkInterface);
  const ifs = doc.interfaces ?? [];
  if (ifs.length) {
    doc.net_sent_bps = sum(ifs, (i) => i.sent_bps);
    doc.net_recv_bps = sum(ifs, (i) => i.recv_bps);
    doc.net_packets_sent = sum(ifs, (i) => i.packets_sent);
    doc.net_packets_recv = sum(ifs, (i) => i.packets_recv);
    doc.net_errors = sum(ifs, (i) => i.errors);
    doc.net_discards = sum(ifs, (i) => i.discards);
    const bandwidth = sum(ifs, (i) => i.bandwidth_bps ?? 0);
    if (bandwidth > 0) {
      doc.net_utilization = round((doc.net_sent_bps + doc.net_recv_bps) * 8 / bandwidth * 100);
    }
  }

  const processes = os ? numProp(os, "NumberOfProcesses") : null;
  if (processes !== null) doc.process_count = Math.max(0, Math.round(processes));
}

type InterfaceDoc = NonNullable<MetricsDocument["interfaces"]>[number];

function networkInterface(n: WmiItem): InterfaceDoc {
  const sent = numProp(n, "BytesSentPersec") ?? 0;
  const recv = numProp(n, "BytesReceivedPersec") ?? 0;
  // CurrentBandwidth is bits/s; 0 on tunnels and disconnected adapters
  const bandwidth = numProp(n, "CurrentBandwidth");
  return {
    name: strProp(n, "Name") ?? "?",
    sent_bps: sent,
    recv_bps: recv,
    packets_sent: numProp(n, "PacketsSentPersec") ?? 0,
    packets_recv: numProp(n, "PacketsReceivedPersec") ?? 0,
    errors: (numProp(n, "PacketsReceivedErrors") ?? 0) + (numProp(n, "PacketsOutboundErrors") ?? 0),
    discards: (numProp(n, "PacketsReceivedDiscarded") ?? 0) +
      (numProp(n, "PacketsOutboundDiscarded") ?? 0),
    bandwidth_bps: bandwidth || null,
    utilization: bandwidth ? round((sent + recv) * 8 / bandwidth * 100) : null,
  };
}

/**
 * The poller registry's entry point: one poll of `ip` with a decrypted credential, on the
 * process-wide connection pool (a warm connection skips the NTLM handshake). `options` are
 * the deployment's client settings (polling.winrm_pipelining as `{ pipelining }`, caps).
 */
export function collectWindowsDocument(
  ip: string,
  credential: WinrmCredential,
  signal: AbortSignal,
  options: WinrmOverrides = {},
  /** the device's host name: Kerberos names the service HTTP/<hostName> */
  hostName?: string | null,
  collection: PollCollection = resolveCollection(null),
): Promise<ProfilePoll> {
  return collectProfile(pollingClient(ip, credential, options, hostName), collection, signal);
}

/**
 * The clients built for polling, per credential object and address: a poll reuses the client
 * of the previous poll of its host (building one hashes the password for the pool key and
 * makes a transport and an envelope builder). A poller's credential cache hands out one
 * object per profile until its TTL or a change, so a new password or profile makes new
 * clients, and the old ones go with the old object.
 */
const pollingClients = new WeakMap<WinrmCredential, Map<string, WinrmClient>>();

function pollingClient(
  ip: string,
  credential: WinrmCredential,
  options: WinrmOverrides,
  hostName?: string | null,
) {
  let clients = pollingClients.get(credential);
  if (!clients) pollingClients.set(credential, clients = new Map());
  let key = hostName ? `${ip} ${hostName}` : ip;
  if (Object.keys(options).length) key += ` ${JSON.stringify(options)}`;
  let client = clients.get(key);
  if (!client) clients.set(key, client = clientFromCredential(ip, credential, options, hostName));
  return client;
}

/** Identification of `ip` for discovery/inventory, on the shared pool too. */
export function identifyWindows(
  ip: string,
  credential: WinrmCredential,
  signal?: AbortSignal,
  options: WinrmOverrides = {},
  hostName?: string | null,
): Promise<WindowsIdentity> {
  return identify(clientFromCredential(ip, credential, options, hostName), signal);
}

function sum<T>(items: T[], pick: (t: T) => number): number {
  let n = 0;
  for (const t of items) n += pick(t);
  return n;
}

function trimmed(s: string | null): string | null {
  const t = s?.trim();
  return t ? t : null;
}

const round = (v: number) => Math.round(v * 1000) / 1000;
