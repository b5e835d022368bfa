/**
 * The WMI classes a poller asks for, with instance values computed from the host profile and
 * the current time. Property lists follow the Microsoft class docs (a subset); a property
 * listed but not set by an instance is rendered as nil, like WMI does for empty properties.
 */
import { bootAt, type HostProfile, signal, unit } from "./profile.ts";

export interface CimDatetime {
  datetime: number;
}
export type WmiValue = string | number | boolean | null | CimDatetime | WmiValue[];
export type Instance = Record<string, WmiValue>;

export interface WmiClass {
  name: string;
  /** Key properties, for Get with selectors. */
  keys: string[];
  /** Get without selectors works (Win32_OperatingSystem and friends). */
  singleton: boolean;
  /** All properties in the order Windows sends them (alphabetical, case-insensitive). */
  properties: string[];
  /** lower-case name → canonical name */
  byLower: Map<string, string>;
  instances(host: HostProfile, nowMs: number, hint?: QueryHint): Instance[];
}

/** What the WHERE clause tells a class that generates history (the event log) to skip. */
export interface QueryHint {
  /** only instances with TimeGenerated after this (epoch ms) can match */
  since?: number;
}

const dt = (ms: number): CimDatetime => ({ datetime: ms });

export function defineClass(
  name: string,
  keys: string[],
  singleton: boolean,
  props: string,
  instances: (h: HostProfile, now: number, hint?: QueryHint) => Instance[],
): WmiClass {
  const properties = props.trim().split(/\s+/).sort((a, b) =>
    a.toLowerCase() < b.toLowerCase() ? -1 : 1
  );
  return {
    name,
    keys,
    singleton,
    properties,
    byLower: new Map(properties.map((p) => [p.toLowerCase(), p])),
    instances,
  };
}

/** A counter that grows at roughly `rate`/s since boot: monotone, per-host. */
function counter(h: HostProfile, salt: number, rate: number, now: number): number {
  return Math.floor(((now - bootAt(h, now)) / 1000) * rate * (0.5 + unit(h.seed, salt)));
}

function freeKB(h: HostProfile, now: number): number {
  return Math.floor(h.memoryKB * (0.15 + 0.6 * signal(h.seed, 20, now)));
}

function processes(h: HostProfile, now: number): number {
  return 60 + Math.floor(unit(h.seed, 21) * 80 + 20 * signal(h.seed, 22, now, 900));
}

function cpuPercent(h: HostProfile, cpu: number, now: number): number {
  const base = unit(h.seed, 30) * 0.6;
  return Math.round(100 * Math.min(1, base * 0.5 + 0.5 * signal(h.seed, 31 + cpu, now, 300)));
}

const operatingSystem = defineClass(
  "Win32_OperatingSystem",
  [],
  true,
  `BootDevice BuildNumber BuildType Caption CodeSet CountryCode CSDVersion CSName CurrentTimeZone
   FreePhysicalMemory FreeSpaceInPagingFiles FreeVirtualMemory InstallDate LastBootUpTime
   LocalDateTime Locale Manufacturer MaxNumberOfProcesses MaxProcessMemorySize Name
   NumberOfLicensedUsers NumberOfProcesses NumberOfUsers OSArchitecture OSLanguage OSType
   OtherTypeDescription ProductType SerialNumber ServicePackMajorVersion
   ServicePackMinorVersion SizeStoredInPagingFiles Status SystemDirectory SystemDrive
   TotalVirtualMemorySize TotalVisibleMemorySize Version WindowsDirectory`,
  (h, now) => {
    const free = freeKB(h, now);
    const paging = 4 * 1024 * 1024;
    return [{
      BootDevice: "\\Device\\HarddiskVolume1",
      BuildNumber: h.os.build,
      BuildType: "Multiprocessor Free",
      Caption: h.os.caption,
      CodeSet: "1252",
      CountryCode: "1",
      CSName: h.name,
      CurrentTimeZone: 0,
      FreePhysicalMemory: free,
      FreeSpaceInPagingFiles: paging - 1024 * Math.floor(unit(h.seed, 23) * 512),
      FreeVirtualMemory: free + paging / 2,
      InstallDate: dt(h.installMs),
      LastBootUpTime: dt(bootAt(h, now)),
      LocalDateTime: dt(Math.floor(now / 1000) * 1000),
      Locale: "0409",
      Manufacturer: "Microsoft Corporation",
      MaxNumberOfProcesses: 4294967295,
      MaxProcessMemorySize: 137438953344,
      Name: `${h.os.caption.trim()}|C:\\Windows|\\Device\\Harddisk0\\Partition2`,
      NumberOfProcesses: processes(h, now),
      NumberOfUsers: 1 + Math.floor(unit(h.seed, 24) * 3),
      OSArchitecture: "64-bit",
      OSLanguage: 1033,
      OSType: 18,
      ProductType: 3,
      SerialNumber: `00429-70000-00000-AA${String(h.seed % 1000).padStart(3, "0")}`,
      ServicePackMajorVersion: 0,
      ServicePackMinorVersion: 0,
      SizeStoredInPagingFiles: paging,
      Status: "OK",
      SystemDirectory: "C:\\Windows\\system32",
      SystemDrive: "C:",
      TotalVirtualMemorySize: h.memoryKB + paging,
      TotalVisibleMemorySize: h.memoryKB,
      Version: h.os.version,
      WindowsDirectory: "C:\\Windows",
    }];
  },
);

const computerSystem = defineClass(
  "Win32_ComputerSystem",
  ["Name"],
  true,
  `AdminPasswordStatus BootupState Caption ChassisBootupState CurrentTimeZone DNSHostName Domain
   DomainRole HypervisorPresent Manufacturer Model Name NumberOfLogicalProcessors
   NumberOfProcessors PartOfDomain PrimaryOwnerName Status SystemType TotalPhysicalMemory
   UserName Workgroup`,
  (h) => [{
    AdminPasswordStatus: 3,
    BootupState: "Normal boot",
    Caption: h.name,
    ChassisBootupState: 3,
    CurrentTimeZone: 0,
    DNSHostName: h.name.toLowerCase(),
    Domain: h.domain ?? "WORKGROUP",
    DomainRole: h.domain ? 3 : 2,
    HypervisorPresent: h.manufacturer !== "Dell Inc.",
    Manufacturer: h.manufacturer,
    Model: h.model,
    Name: h.name,
    NumberOfLogicalProcessors: h.cpus,
    NumberOfProcessors: h.cpus > 8 ? 2 : 1,
    PartOfDomain: h.domain !== null,
    PrimaryOwnerName: "Windows User",
    Status: "OK",
    SystemType: "x64-based PC",
    // Installed bytes are a little above what the OS reports as visible.
    TotalPhysicalMemory: (h.memoryKB + 8192) * 1024,
    Workgroup: h.domain ? null : "WORKGROUP",
  }],
);

const bios = defineClass(
  "Win32_BIOS",
  ["Name", "SoftwareElementID", "SoftwareElementState", "TargetOperatingSystem", "Version"],
  true,
  `BIOSVersion Caption Description Manufacturer Name PrimaryBIOS ReleaseDate SerialNumber
   SMBIOSBIOSVersion SMBIOSMajorVersion SMBIOSMinorVersion SoftwareElementID
   SoftwareElementState Status TargetOperatingSystem Version`,
  (h) => {
    const name = h.manufacturer === "Dell Inc." ? "2.17.1" : "6.00";
    return [{
      BIOSVersion: [`${h.manufacturer.split(",")[0].toUpperCase()} - 6040000`, name],
      Caption: name,
      Description: name,
      Manufacturer: h.manufacturer === "Dell Inc." ? "Dell Inc." : "Phoenix Technologies LTD",
      Name: name,
      PrimaryBIOS: true,
      ReleaseDate: dt(Date.UTC(2020, 10, 12)),
      SerialNumber: h.serial,
      SMBIOSBIOSVersion: name,
      SMBIOSMajorVersion: 2,
      SMBIOSMinorVersion: 7,
      SoftwareElementID: name,
      SoftwareElementState: 3,
      Status: "OK",
      TargetOperatingSystem: 0,
      Version: "INTEL  - 6040000",
    }];
  },
);

const processor = defineClass(
  "Win32_PerfFormattedData_PerfOS_Processor",
  ["Name"],
  false,
  `C1TransitionsPersec C2TransitionsPersec C3TransitionsPersec Caption Description DPCRate
   DPCsQueuedPersec Frequency_Object Frequency_PerfTime Frequency_Sys100NS InterruptsPersec Name
   PercentC1Time PercentC2Time PercentC3Time PercentDPCTime PercentIdleTime PercentInterruptTime
   PercentPrivilegedTime PercentProcessorTime PercentUserTime Timestamp_Object
   Timestamp_PerfTime Timestamp_Sys100NS`,
  (h, now) => {
    const out: Instance[] = [];
    let total = 0;
    const one = (name: string, busy: number): Instance => ({
      C1TransitionsPersec: 200 + busy * 10,
      C2TransitionsPersec: 0,
      C3TransitionsPersec: 0,
      DPCRate: 0,
      DPCsQueuedPersec: Math.floor(busy / 4),
      Frequency_Object: 0,
      Frequency_PerfTime: 10_000_000,
      Frequency_Sys100NS: 10_000_000,
      InterruptsPersec: 300 + busy * 20,
      Name: name,
      PercentC1Time: 100 - busy,
      PercentC2Time: 0,
      PercentC3Time: 0,
      PercentDPCTime: 0,
      PercentIdleTime: 100 - busy,
      PercentInterruptTime: busy > 50 ? 1 : 0,
      PercentPrivilegedTime: Math.floor(busy / 3),
      PercentProcessorTime: busy,
      PercentUserTime: busy - Math.floor(busy / 3),
      Timestamp_Object: 0,
      Timestamp_PerfTime: 0,
      Timestamp_Sys100NS: 0,
    });
    for (let c = 0; c < h.cpus; c++) {
      const busy = cpuPercent(h, c, now);
      total += busy;
      out.push(one(String(c), busy));
    }
    out.push(one("_Total", Math.round(total / h.cpus)));
    return out;
  },
);

const system = defineClass(
  "Win32_PerfFormattedData_PerfOS_System",
  [],
  true,
  `AlignmentFixupsPersec Caption ContextSwitchesPersec Description ExceptionDispatchesPersec
   FileControlBytesPersec FileDataOperationsPersec FileReadOperationsPersec
   FileWriteOperationsPersec Frequency_Object Frequency_PerfTime Frequency_Sys100NS Name
   PercentRegistryQuotaInUse Processes ProcessorQueueLength SystemCallsPersec SystemUpTime
   Threads Timestamp_Object Timestamp_PerfTime Timestamp_Sys100NS`,
  (h, now) => {
    const procs = processes(h, now);
    return [{
      AlignmentFixupsPersec: 0,
      ContextSwitchesPersec: Math.floor(2000 + 20000 * signal(h.seed, 40, now)),
      ExceptionDispatchesPersec: Math.floor(10 * signal(h.seed, 41, now)),
      FileControlBytesPersec: Math.floor(50000 * signal(h.seed, 42, now)),
      FileDataOperationsPersec: Math.floor(500 * signal(h.seed, 43, now)),
      FileReadOperationsPersec: Math.floor(400 * signal(h.seed, 44, now)),
      FileWriteOperationsPersec: Math.floor(100 * signal(h.seed, 45, now)),
      Frequency_Object: 0,
      Frequency_PerfTime: 10_000_000,
      Frequency_Sys100NS: 10_000_000,
      PercentRegistryQuotaInUse: 3,
      Processes: procs,
      ProcessorQueueLength: Math.floor(4 * signal(h.seed, 46, now)),
      SystemCallsPersec: Math.floor(5000 + 50000 * signal(h.seed, 47, now)),
      SystemUpTime: Math.floor((now - bootAt(h, now)) / 1000),
      Threads: procs * 12 + Math.floor(unit(h.seed, 48) * 400),
      Timestamp_Object: 0,
      Timestamp_PerfTime: 0,
      Timestamp_Sys100NS: 0,
    }];
  },
);

export { counter, cpuPercent, dt, processes };
export const BASE_CLASSES = [operatingSystem, computerSystem, bios, processor, system];
