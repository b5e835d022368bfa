/**
 * Win32_Process: one instance per process, as many as Win32_OperatingSystem's
 * NumberOfProcesses says at that moment, so a query returns a result large enough to span
 * several Next batches and RPC fragments.
 */
import { type HostProfile, unit } from "./profile.ts";
import { defineClass, dt, type Instance, processes } from "./wmi.ts";

const NAMES = [
  "System Idle Process",
  "System",
  "Registry",
  "smss.exe",
  "csrss.exe",
  "wininit.exe",
  "services.exe",
  "lsass.exe",
  "svchost.exe",
  "WmiPrvSE.exe",
  "spoolsv.exe",
  "explorer.exe",
  "dwm.exe",
  "winlogon.exe",
  "MsMpEng.exe",
  "sqlservr.exe",
  "w3wp.exe",
  "conhost.exe",
];

export const win32Process = defineClass(
  "Win32_Process",
  ["Handle"],
  false,
  `Caption CommandLine CreationDate ExecutablePath Handle HandleCount KernelModeTime Name
   ParentProcessId Priority ProcessId SessionId ThreadCount UserModeTime WorkingSetSize`,
  (h: HostProfile, now: number) => {
    const n = processes(h, now);
    const out: Instance[] = [];
    for (let i = 0; i < n; i++) {
      const name = i < 9 ? NAMES[i] : NAMES[8 + Math.floor(unit(h.seed, 200 + i) * 10)];
      const pid = i === 0 ? 0 : i === 1 ? 4 : 100 + i * 4;
      const exe = i < 3 ? null : `C:\\Windows\\System32\\${name}`;
      out.push({
        Caption: name,
        CommandLine: exe,
        CreationDate: dt(h.bootMs + i * 1000),
        ExecutablePath: exe,
        Handle: String(pid),
        HandleCount: 50 + Math.floor(unit(h.seed, 300 + i) * 2000),
        KernelModeTime: Math.floor(unit(h.seed, 400 + i) * 1e9),
        Name: name,
        ParentProcessId: i < 2 ? 0 : 4,
        Priority: 8,
        ProcessId: pid,
        SessionId: i < 11 ? 0 : 1,
        ThreadCount: 1 + Math.floor(unit(h.seed, 500 + i) * 60),
        UserModeTime: Math.floor(unit(h.seed, 600 + i) * 1e9),
        WorkingSetSize: 4096 * (100 + Math.floor(unit(h.seed, 700 + i) * 50000)),
      });
    }
    return out;
  },
);
