/**
 * The classes the extended collection profile reads, over time: processes whose CPU moves
 * (and a Windows Modules Installer that eats a core for ten minutes an hour), physical disks
 * whose latency spikes, the page file, on top of Win32_Service (wmi_services.ts).
 */
import { bootAt, type HostProfile, signal, unit } from "./profile.ts";
import { cpuPercent, defineClass, type Instance, processes } from "./wmi.ts";
import { inWindow, isIisHost, isSqlHost, spoolerRunning, sqlRunning } from "./wmi_services.ts";

const MIN = 60_000;
const MB = 1024 * 1024;

interface Proc {
  name: string;
  pid: number;
  /** share of the busy CPU this process takes (before normalising) */
  weight: number;
  memMB: number;
  threads: number;
  handles: number;
}

/** TiWorker (Windows Modules Installer) runs hot for 10 minutes an hour on some hosts. */
export const runawayNow = (h: HostProfile, now: number) =>
  unit(h.seed, 120) < 0.4 && inWindow(h, 108, now, 60 * MIN, 10 * MIN);

/** The host's processes at `now`: as many as Win32_OperatingSystem.NumberOfProcesses says. */
export function hostProcesses(h: HostProfile, now: number): Proc[] {
  const boot = bootAt(h, now);
  // PIDs change with every boot, stay put between polls.
  const pid = (i: number) =>
    i === 0 ? 4 : 100 + ((Math.imul(h.seed ^ boot, 2654435761) >>> 0) % 997 + i * 53) * 4;
  const out: Proc[] = [];
  const add = (name: string, weight: number, memMB: number, threads: number, handles: number) => {
    out.push({ name, pid: pid(out.length), weight, memMB, threads, handles });
  };
  const s = (salt: number, period = 300) => signal(h.seed, salt, now, period);
  add("System", 0.02, 0.1, 150, 2500);
  add("Registry", 0, 60, 4, 0);
  add("smss", 0, 1, 2, 53);
  add("csrss", 0.005, 5, 11, 560);
  add("csrss", 0.002, 4, 9, 300);
  add("wininit", 0, 6, 1, 160);
  add("services", 0.01, 9, 8, 650);
  add("lsass", 0.03 * s(121), 24 + 10 * s(122), 9, 1500);
  add("winlogon", 0, 10, 3, 250);
  add("MsMpEng", 0.1 * s(123, 120), 180 + 80 * s(124), 40, 900);
  add("WmiPrvSE", 0.05 * s(125, 60), 20 + 10 * s(126), 12, 400);
  add("WmiPrvSE", 0.02, 12, 8, 280);
  add("wsmprovhost", 0.01, 40, 14, 420);
  if (spoolerRunning(h, now)) add("spoolsv", 0.005, 14, 10, 480);
  if (h.manufacturer === "VMware, Inc.") add("vmtoolsd", 0.01, 22, 12, 330);
  if (isSqlHost(h) && sqlRunning(h, now)) {
    add(
      "sqlservr",
      0.5 * s(127, 180),
      Math.floor(h.memoryKB / 1024 * (0.3 + 0.2 * s(128, 900))),
      90,
      1800,
    );
  }
  if (isIisHost(h)) add("w3wp", 0.3 * s(129, 120), 300 + 400 * s(130, 600), 45, 1200);
  if (runawayNow(h, now)) add("TiWorker", 0, 220, 8, 700); // pinned at one core below
  const total = processes(h, now);
  for (let i = 0; out.length < total - 1; i++) {
    add(
      "svchost",
      0.01 * unit(h.seed, 140 + i),
      8 + Math.floor(60 * unit(h.seed, 180 + i)),
      5 + (i % 20),
      200 + (i * 37) % 900,
    );
  }
  return out;
}

/** PerfProc instance names as Windows writes them: no .exe, duplicates get `#1`, `#2`. */
function perfNames(procs: Proc[]): string[] {
  const seen = new Map<string, number>();
  return procs.map((p) => {
    const n = seen.get(p.name) ?? 0;
    seen.set(p.name, n + 1);
    return n === 0 ? p.name : `${p.name}#${n}`;
  });
}

/** Percent of one processor, as PercentProcessorTime of PerfProc_Process counts it. */
function processCpu(h: HostProfile, procs: Proc[], now: number): number[] {
  let busy = 0;
  for (let c = 0; c < h.cpus; c++) busy += cpuPercent(h, c, now);
  const weights = procs.map((p) => p.weight);
  const sum = weights.reduce((a, b) => a + b, 0) || 1;
  return procs.map((p, i) =>
    p.name === "TiWorker" && runawayNow(h, now) ? 98 : Math.round(busy * weights[i] / sum)
  );
}

export const perfProcess = defineClass(
  "Win32_PerfFormattedData_PerfProc_Process",
  ["Name"],
  false,
  `Caption CreatingProcessID Description ElapsedTime Frequency_Object Frequency_PerfTime
   Frequency_Sys100NS HandleCount IDProcess IODataBytesPersec IODataOperationsPersec
   IOOtherBytesPersec IOOtherOperationsPersec IOReadBytesPersec IOReadOperationsPersec
   IOWriteBytesPersec IOWriteOperationsPersec Name PageFaultsPersec PageFileBytes
   PageFileBytesPeak PercentPrivilegedTime PercentProcessorTime PercentUserTime PoolNonpagedBytes
   PoolPagedBytes PriorityBase PrivateBytes ThreadCount Timestamp_Object Timestamp_PerfTime
   Timestamp_Sys100NS VirtualBytes VirtualBytesPeak WorkingSet WorkingSetPeak WorkingSetPrivate`,
  (h, now) => {
    const procs = hostProcesses(h, now);
    const names = perfNames(procs);
    const cpu = processCpu(h, procs, now);
    const elapsed = Math.floor((now - bootAt(h, now)) / 1000);
    const one = (
      name: string,
      pidV: number,
      pct: number,
      ws: number,
      threads: number,
      handles: number,
    ): Instance => ({
      CreatingProcessID: pidV === 4 ? 0 : 4,
      ElapsedTime: elapsed,
      HandleCount: handles,
      IDProcess: pidV,
      IODataBytesPersec: Math.floor(pct * 1000),
      IODataOperationsPersec: Math.floor(pct * 3),
      Name: name,
      PageFaultsPersec: Math.floor(pct * 5),
      PageFileBytes: Math.floor(ws * 0.8),
      PercentPrivilegedTime: Math.floor(pct / 4),
      PercentProcessorTime: pct,
      PercentUserTime: pct - Math.floor(pct / 4),
      PriorityBase: 8,
      PrivateBytes: Math.floor(ws * 0.8),
      ThreadCount: threads,
      VirtualBytes: ws * 4,
      WorkingSet: ws,
      WorkingSetPeak: Math.floor(ws * 1.2),
      WorkingSetPrivate: Math.floor(ws * 0.6),
    });
    const out = procs.map((p, i) =>
      one(names[i], p.pid, cpu[i], Math.floor(p.memMB * MB), p.threads, p.handles)
    );
    const busy = cpu.reduce((a, b) => a + b, 0);
    out.unshift(one("Idle", 0, Math.max(0, h.cpus * 100 - busy), 8192, h.cpus, 0));
    out.push(
      one("_Total", 0, h.cpus * 100, procs.reduce((a, p) => a + Math.floor(p.memMB * MB), 0), 0, 0),
    );
    return out;
  },
);

export const win32Process = defineClass(
  "Win32_Process",
  ["Handle"],
  false,
  `Caption CommandLine CreationClassName CreationDate CSCreationClassName CSName Description
   ExecutablePath ExecutionState Handle HandleCount KernelModeTime Name OSCreationClassName
   OSName OtherOperationCount PageFaults PageFileUsage ParentProcessId PeakPageFileUsage
   PeakVirtualSize PeakWorkingSetSize Priority PrivatePageCount ProcessId ReadOperationCount
   SessionId Status ThreadCount UserModeTime VirtualSize WindowsVersion WorkingSetSize`,
  (h, now) => {
    const procs = hostProcesses(h, now);
    const boot = bootAt(h, now);
    return [
      { name: "System Idle Process", pid: 0, memMB: 0.008, threads: h.cpus, handles: 0 },
      ...procs,
    ].map((p): Instance => {
      const exe = p.pid <= 4 || p.name === "Registry" ? p.name : `${p.name}.exe`;
      const ws = Math.floor(p.memMB * MB);
      return {
        Caption: exe,
        CreationClassName: "Win32_Process",
        CreationDate: { datetime: boot + 5_000 + (p.pid % 600) * 100 },
        CSCreationClassName: "Win32_ComputerSystem",
        CSName: h.name,
        Description: exe,
        Handle: String(p.pid),
        HandleCount: p.handles,
        Name: exe,
        OSCreationClassName: "Win32_OperatingSystem",
        OSName: `${h.os.caption.trim()}|C:\\Windows|\\Device\\Harddisk0\\Partition2`,
        PageFileUsage: Math.floor(ws * 0.8 / 1024),
        ParentProcessId: p.pid === 4 ? 0 : 4,
        Priority: 8,
        ProcessId: p.pid,
        SessionId: 0,
        ThreadCount: p.threads,
        WindowsVersion: h.os.version,
        WorkingSetSize: ws,
      };
    });
  },
);

/** Disk 0 (C:) and disk 1 (D:); a latency spike of 2 minutes every 40 on one host in four. */
export const latencySpike = (h: HostProfile, now: number) =>
  spiky(h) && inWindow(h, 151, now, 40 * MIN, 2 * MIN);

/** One host in four has latency spikes, unless made steady (Winsim.steady). */
const spiky = (h: HostProfile) => !h.steady && unit(h.seed, 150) < 0.25;

export const physicalDisk = defineClass(
  "Win32_PerfFormattedData_PerfDisk_PhysicalDisk",
  ["Name"],
  false,
  `AvgDiskBytesPerRead AvgDiskBytesPerTransfer AvgDiskBytesPerWrite AvgDiskQueueLength
   AvgDiskReadQueueLength AvgDisksecPerRead AvgDisksecPerTransfer AvgDisksecPerWrite
   AvgDiskWriteQueueLength Caption CurrentDiskQueueLength Description DiskBytesPersec
   DiskReadBytesPersec DiskReadsPersec DiskTransfersPersec DiskWriteBytesPersec
   DiskWritesPersec Frequency_Object Frequency_PerfTime Frequency_Sys100NS Name
   PercentDiskReadTime PercentDiskTime PercentDiskWriteTime PercentIdleTime SplitIOPerSec
   Timestamp_Object Timestamp_PerfTime Timestamp_Sys100NS`,
  (h, now) => {
    const spike = latencySpike(h, now);
    const disk = (name: string, salt: number, scale: number): Instance => {
      const reads = Math.floor(scale * 200 * signal(h.seed, salt, now, 180));
      const writes = Math.floor(scale * 120 * signal(h.seed, salt + 1, now, 240));
      const rb = reads * 16384;
      const wb = writes * 32768;
      // Formatted PERF_AVERAGE_TIMER values are whole seconds (uint32): 0 unless very slow.
      const secs = spike && name.startsWith("1")
        ? 1 + Math.floor(2 * signal(h.seed, salt + 2, now, 30))
        : 0;
      const queue = spike
        ? 20 + Math.floor(40 * signal(h.seed, salt + 3, now, 30))
        : Math.floor(2 * signal(h.seed, salt + 3, now));
      const busy = spike ? 100 : Math.min(100, Math.floor((reads + writes) / 4));
      return {
        AvgDiskBytesPerRead: reads ? 16384 : 0,
        AvgDiskBytesPerTransfer: reads + writes ? Math.floor((rb + wb) / (reads + writes)) : 0,
        AvgDiskBytesPerWrite: writes ? 32768 : 0,
        AvgDiskQueueLength: queue,
        AvgDiskReadQueueLength: Math.floor(queue / 2),
        AvgDisksecPerRead: secs,
        AvgDisksecPerTransfer: secs,
        AvgDisksecPerWrite: secs,
        AvgDiskWriteQueueLength: queue - Math.floor(queue / 2),
        CurrentDiskQueueLength: spike ? queue : 0,
        DiskBytesPersec: rb + wb,
        DiskReadBytesPersec: rb,
        DiskReadsPersec: reads,
        DiskTransfersPersec: reads + writes,
        DiskWriteBytesPersec: wb,
        DiskWritesPersec: writes,
        Frequency_Object: 0,
        Frequency_PerfTime: 10_000_000,
        Frequency_Sys100NS: 10_000_000,
        Name: name,
        PercentDiskReadTime: Math.floor(busy / 2),
        PercentDiskTime: busy,
        PercentDiskWriteTime: busy - Math.floor(busy / 2),
        PercentIdleTime: 100 - busy,
        SplitIOPerSec: 0,
        Timestamp_Object: 0,
        Timestamp_PerfTime: 0,
        Timestamp_Sys100NS: 0,
      };
    };
    const d0 = disk("0 C:", 152, 1);
    const d1 = disk("1 D:", 156, 2);
    const total: Instance = { ...d1, Name: "_Total" };
    for (
      const k of [
        "DiskReadsPersec",
        "DiskWritesPersec",
        "DiskReadBytesPersec",
        "DiskWriteBytesPersec",
        "DiskTransfersPersec",
        "DiskBytesPersec",
        "AvgDiskQueueLength",
      ]
    ) {
      total[k] = (d0[k] as number) + (d1[k] as number);
    }
    return [d0, d1, total];
  },
);

/** Seconds of latency-spike windows (latencySpike's) between `from` and `to`, epoch ms. */
function spikeSeconds(h: HostProfile, from: number, to: number): number {
  const period = 40 * MIN;
  const dur = 2 * MIN;
  const phase = Math.floor(unit(h.seed, 151) * period);
  const upTo = (x: number) => {
    const n = Math.floor((x - phase) / period);
    return n * dur + Math.min(x - phase - n * period, dur);
  };
  return (upTo(to) - upTo(from)) / 1000;
}

const PERF_FREQUENCY = 10_000_000;
const UINT32 = 2 ** 32;

/**
 * The raw counters behind AvgDisksecPerTransfer, as perfmon and windows_exporter read them:
 * cumulative since boot, PERF_AVERAGE_TIMER ticks (uint32, wrapping) over a PERF_AVERAGE_BASE
 * transfer count (uint32). The average over two polls is (Δticks / Frequency_PerfTime) / Δbase:
 * milliseconds normally (2–8 ms per disk), 1.5 s per transfer on disk 1 during a latency spike,
 * where the formatted class says 1 or 2 (whole seconds).
 */
export const physicalDiskRaw = defineClass(
  "Win32_PerfRawData_PerfDisk_PhysicalDisk",
  ["Name"],
  false,
  `AvgDisksecPerTransfer AvgDisksecPerTransfer_Base DiskReadsPersec
   DiskTransfersPersec DiskWritesPersec Frequency_PerfTime Name Timestamp_PerfTime`,
  (h, now) => {
    const boot = bootAt(h, now);
    const up = (now - boot) / 1000;
    const disk = (name: string, salt: number, scale: number, spikes: boolean): Instance => {
      const rate = scale * 160 * (0.5 + unit(h.seed, salt));
      const normal = 0.002 + 0.006 * unit(h.seed, salt + 4);
      const transfers = Math.floor(rate * up);
      const slow = spikes && spiky(h) ? spikeSeconds(h, boot, now) : 0;
      const latency = rate * (normal * up + (1.5 - normal) * slow);
      return {
        AvgDisksecPerTransfer: Math.floor(latency * PERF_FREQUENCY) % UINT32,
        AvgDisksecPerTransfer_Base: transfers % UINT32,
        DiskReadsPersec: Math.floor(transfers * 0.6) % UINT32,
        DiskTransfersPersec: transfers % UINT32,
        DiskWritesPersec: (transfers - Math.floor(transfers * 0.6)) % UINT32,
        Frequency_PerfTime: PERF_FREQUENCY,
        Name: name,
        Timestamp_PerfTime: Math.floor(up * PERF_FREQUENCY),
      };
    };
    const d0 = disk("0 C:", 152, 1, false);
    const d1 = disk("1 D:", 156, 2, true);
    const total: Instance = { ...d1, Name: "_Total" };
    for (const k of ["AvgDisksecPerTransfer", "AvgDisksecPerTransfer_Base"]) {
      total[k] = ((d0[k] as number) + (d1[k] as number)) % UINT32;
    }
    return [d0, d1, total];
  },
);

export const pageFileUsage = defineClass(
  "Win32_PageFileUsage",
  ["Name"],
  false,
  `AllocatedBaseSize Caption CurrentUsage Description InstallDate Name PeakUsage Status
   TempPageFile`,
  (h, now) => {
    const allocated = 4096;
    const usage = Math.floor(allocated * (0.02 + 0.3 * signal(h.seed, 160, now, 1800)));
    return [{
      AllocatedBaseSize: allocated,
      Caption: "C:\\pagefile.sys",
      CurrentUsage: usage,
      Description: "C:\\pagefile.sys",
      InstallDate: { datetime: h.installMs },
      Name: "C:\\pagefile.sys",
      PeakUsage: Math.max(usage, Math.floor(allocated * 0.35)),
      TempPageFile: false,
    }];
  },
);
