/**
 * Win32_Service of a simulated host, changing over time the way a fleet does: the print
 * spooler of some hosts stops now and then, Windows Update (automatic on some hosts) runs
 * and stops, SQL Server on the database hosts stops for a few minutes every two hours, and
 * trigger-start services set to automatic sit stopped, as on a real Windows server.
 */
import { type HostProfile, unit } from "./profile.ts";
import { defineClass, type Instance } from "./wmi.ts";

const MIN = 60_000;

/** Whether `now` falls in a `durMs` window that recurs every `periodMs` at a per-host phase. */
export function inWindow(
  h: HostProfile,
  salt: number,
  now: number,
  periodMs: number,
  durMs: number,
): boolean {
  const phase = Math.floor(unit(h.seed, salt) * periodMs);
  return ((now - phase) % periodMs + periodMs) % periodMs < durMs;
}

export const isSqlHost = (h: HostProfile) => unit(h.seed, 100) < 0.3;
export const isIisHost = (h: HostProfile) => unit(h.seed, 101) < 0.3;

type Mode = "Auto" | "Manual" | "Disabled";
interface ServiceDef {
  name: string;
  display: string;
  mode: (h: HostProfile) => Mode;
  /** running at `now` */
  running: (h: HostProfile, now: number) => boolean;
  present?: (h: HostProfile) => boolean;
  path: string;
}

const always = () => true;
const never = () => false;
const auto = (): Mode => "Auto";
const manual = (): Mode => "Manual";
const svchost = (group: string) => `C:\\Windows\\system32\\svchost.exe -k ${group}`;

/** The spooler stops for 10 minutes an hour on one host in five. */
export const spoolerRunning = (h: HostProfile, now: number) =>
  !(unit(h.seed, 102) < 0.2 && inWindow(h, 103, now, 60 * MIN, 10 * MIN));
/** SQL Server stops for 4 minutes every 2 hours (a crash and its restart). */
export const sqlRunning = (h: HostProfile, now: number) =>
  !inWindow(h, 104, now, 120 * MIN, 4 * MIN);

const SERVICES: ServiceDef[] = [
  {
    name: "AudioSrv",
    display: "Windows Audio",
    mode: manual,
    running: never,
    path: svchost("LocalServiceNetworkRestricted"),
  },
  {
    name: "BFE",
    display: "Base Filtering Engine",
    mode: auto,
    running: always,
    path: svchost("LocalServiceNoNetworkFirewall"),
  },
  {
    name: "BITS",
    display: "Background Intelligent Transfer Service",
    mode: manual,
    running: (h, n) => inWindow(h, 105, n, 30 * MIN, 5 * MIN),
    path: svchost("netsvcs"),
  },
  {
    name: "CryptSvc",
    display: "Cryptographic Services",
    mode: auto,
    running: always,
    path: svchost("NetworkService"),
  },
  {
    name: "DcomLaunch",
    display: "DCOM Server Process Launcher",
    mode: auto,
    running: always,
    path: svchost("DcomLaunch"),
  },
  {
    name: "Dhcp",
    display: "DHCP Client",
    mode: auto,
    running: always,
    path: svchost("LocalServiceNetworkRestricted"),
  },
  {
    name: "Dnscache",
    display: "DNS Client",
    mode: auto,
    running: always,
    path: svchost("NetworkService"),
  },
  {
    name: "EventLog",
    display: "Windows Event Log",
    mode: auto,
    running: always,
    path: svchost("LocalServiceNetworkRestricted"),
  },
  {
    name: "gpsvc",
    display: "Group Policy Client",
    mode: auto,
    running: always,
    path: svchost("netsvcs"),
  },
  {
    name: "LanmanServer",
    display: "Server",
    mode: auto,
    running: always,
    path: svchost("netsvcs"),
  },
  {
    name: "LanmanWorkstation",
    display: "Workstation",
    mode: auto,
    running: always,
    path: svchost("NetworkService"),
  },
  {
    name: "MpsSvc",
    display: "Windows Defender Firewall",
    mode: auto,
    running: always,
    path: svchost("LocalServiceNoNetworkFirewall"),
  },
  {
    name: "MSDTC",
    display: "Distributed Transaction Coordinator",
    mode: auto,
    running: always,
    path: "C:\\Windows\\System32\\msdtc.exe",
  },
  {
    name: "Netlogon",
    display: "Netlogon",
    mode: (h) => h.domain ? "Auto" : "Manual",
    running: (h) => h.domain !== null,
    path: "C:\\Windows\\system32\\lsass.exe",
  },
  {
    name: "nsi",
    display: "Network Store Interface Service",
    mode: auto,
    running: always,
    path: svchost("LocalService"),
  },
  {
    name: "PlugPlay",
    display: "Plug and Play",
    mode: manual,
    running: always,
    path: svchost("DcomLaunch"),
  },
  // Automatic (trigger start): stopped most of the time, which must not page anyone.
  {
    name: "RemoteRegistry",
    display: "Remote Registry",
    mode: auto,
    running: (h, n) => inWindow(h, 106, n, 20 * MIN, 2 * MIN),
    path: svchost("localService"),
  },
  {
    name: "RpcSs",
    display: "Remote Procedure Call (RPC)",
    mode: auto,
    running: always,
    path: svchost("rpcss"),
  },
  {
    name: "SamSs",
    display: "Security Accounts Manager",
    mode: auto,
    running: always,
    path: "C:\\Windows\\system32\\lsass.exe",
  },
  {
    name: "Schedule",
    display: "Task Scheduler",
    mode: auto,
    running: always,
    path: svchost("netsvcs"),
  },
  {
    name: "SENS",
    display: "System Event Notification Service",
    mode: auto,
    running: always,
    path: svchost("netsvcs"),
  },
  {
    name: "Spooler",
    display: "Print Spooler",
    mode: auto,
    running: spoolerRunning,
    path: "C:\\Windows\\System32\\spoolsv.exe",
  },
  {
    name: "sppsvc",
    display: "Software Protection",
    mode: auto,
    running: (h, n) => inWindow(h, 107, n, 60 * MIN, 3 * MIN),
    path: "C:\\Windows\\system32\\sppsvc.exe",
  },
  {
    name: "TermService",
    display: "Remote Desktop Services",
    mode: manual,
    running: always,
    path: svchost("NetworkService"),
  },
  {
    name: "TrustedInstaller",
    display: "Windows Modules Installer",
    mode: manual,
    running: (h, n) => inWindow(h, 108, n, 60 * MIN, 10 * MIN),
    path: "C:\\Windows\\servicing\\TrustedInstaller.exe",
  },
  {
    name: "W32Time",
    display: "Windows Time",
    mode: (h) => h.domain ? "Auto" : "Manual",
    running: always,
    path: svchost("LocalService"),
  },
  {
    name: "WinDefend",
    display: "Microsoft Defender Antivirus Service",
    mode: auto,
    running: always,
    path: '"C:\\ProgramData\\Microsoft\\Windows Defender\\platform\\MsMpEng.exe"',
  },
  {
    name: "Winmgmt",
    display: "Windows Management Instrumentation",
    mode: auto,
    running: always,
    path: svchost("netsvcs"),
  },
  {
    name: "WinRM",
    display: "Windows Remote Management (WS-Management)",
    mode: auto,
    running: always,
    path: svchost("NetworkService"),
  },
  // Windows Update: automatic on half the hosts; runs 20 minutes an hour.
  {
    name: "wuauserv",
    display: "Windows Update",
    mode: (h) => unit(h.seed, 109) < 0.5 ? "Auto" : "Manual",
    running: (h, n) => inWindow(h, 110, n, 60 * MIN, 20 * MIN),
    path: svchost("netsvcs"),
  },
  {
    name: "VMTools",
    display: "VMware Tools",
    mode: auto,
    running: always,
    present: (h) => h.manufacturer === "VMware, Inc.",
    path: '"C:\\Program Files\\VMware\\VMware Tools\\vmtoolsd.exe"',
  },
  {
    name: "vmicheartbeat",
    display: "Hyper-V Heartbeat Service",
    mode: manual,
    running: always,
    present: (h) => h.model === "Virtual Machine",
    path: svchost("ICService"),
  },
  {
    name: "MSSQLSERVER",
    display: "SQL Server (MSSQLSERVER)",
    mode: auto,
    running: sqlRunning,
    present: isSqlHost,
    path:
      '"C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\sqlservr.exe" -sMSSQLSERVER',
  },
  {
    name: "SQLSERVERAGENT",
    display: "SQL Server Agent (MSSQLSERVER)",
    mode: auto,
    running: sqlRunning,
    present: isSqlHost,
    path:
      '"C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\Binn\\SQLAGENT.EXE" -i MSSQLSERVER',
  },
  {
    name: "W3SVC",
    display: "World Wide Web Publishing Service",
    mode: auto,
    running: always,
    present: isIisHost,
    path: svchost("iissvcs"),
  },
  {
    name: "WAS",
    display: "Windows Process Activation Service",
    mode: manual,
    running: always,
    present: isIisHost,
    path: svchost("iissvcs"),
  },
  {
    name: "Fax",
    display: "Fax",
    mode: () => "Disabled",
    running: never,
    path: "C:\\Windows\\system32\\fxssvc.exe",
  },
];

/** The services present on a host and whether each runs at `now`. */
export function hostServices(h: HostProfile, now: number) {
  return SERVICES.filter((s) => !s.present || s.present(h)).map((s) => ({
    def: s,
    mode: s.mode(h),
    running: s.running(h, now),
  }));
}

export const service = defineClass(
  "Win32_Service",
  ["Name"],
  false,
  `AcceptPause AcceptStop Caption CheckPoint CreationClassName DelayedAutoStart Description
   DesktopInteract DisplayName ErrorControl ExitCode InstallDate Name PathName ProcessId
   ServiceSpecificExitCode ServiceType Started StartMode StartName State Status
   SystemCreationClassName SystemName TagId WaitHint`,
  (h, now) =>
    hostServices(h, now).map(({ def, mode, running }, i): Instance => ({
      AcceptPause: false,
      AcceptStop: running,
      Caption: def.display,
      CheckPoint: 0,
      CreationClassName: "Win32_Service",
      DelayedAutoStart: def.name === "wuauserv" || def.name === "sppsvc",
      Description: def.display,
      DesktopInteract: false,
      DisplayName: def.display,
      ErrorControl: "Normal",
      // A service that crashed exits 1067 (the process terminated unexpectedly).
      ExitCode: running ? 0 : def.name === "MSSQLSERVER" || def.name === "Spooler" ? 1067 : 0,
      Name: def.name,
      PathName: def.path,
      ProcessId: running ? 400 + i * 36 + (h.seed % 7) * 4 : 0,
      ServiceSpecificExitCode: 0,
      ServiceType: def.path.includes("svchost") ? "Share Process" : "Own Process",
      Started: running,
      StartMode: mode,
      StartName: def.name.startsWith("MSSQL") ? "NT Service\\MSSQLSERVER" : "LocalSystem",
      State: running ? "Running" : "Stopped",
      Status: "OK",
      SystemCreationClassName: "Win32_ComputerSystem",
      SystemName: h.name,
      TagId: 0,
      WaitHint: 0,
    })),
);
