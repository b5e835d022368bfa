/**
 * Win32_NTLogEvent of a simulated host: errors of System and Application generated over time
 * (a few an hour, Service Control Manager entries when SQL Server or the spooler dies, a
 * Kernel-Power 41 after an unplanned reboot) and, on some hosts or on demand, a flood of
 * Application Error 1000 entries, five a second for three minutes. Only errors are made: the
 * collector asks for nothing else. As on Windows, the classic event log API behind this class
 * reports a critical entry as an error (EventType 1, Type "Error"). Generated from the
 * TimeGenerated bound of the query (at most a day back), newest first like Windows.
 */
import { bootAt, type HostProfile, unit } from "./profile.ts";
import { defineClass, type Instance } from "./wmi.ts";
import { isSqlHost } from "./wmi_services.ts";

const MIN = 60_000;
const SLOT_MS = 10 * MIN;
const FLOOD_PERIOD_MS = 180 * MIN;
export const FLOOD_MS = 3 * MIN;
const FLOOD_EVERY_MS = 200;
const RECORD_EPOCH = Date.UTC(2025, 0, 1);

interface Entry {
  log: "System" | "Application";
  ts: number;
  source: string;
  code: number;
  message: string;
  strings: string[];
}

const BACKGROUND: Omit<Entry, "ts">[] = [
  {
    log: "System",
    source: "DCOM",
    code: 10016,
    message: "The application-specific permission settings do not grant Local Activation " +
      "permission for the COM Server application with CLSID {D63B10C5-BB46-4990-A94F-" +
      "E40B9D520160} to the user NT AUTHORITY\\SYSTEM.",
    strings: ["application-specific", "Local", "Activation"],
  },
  {
    log: "System",
    source: "Schannel",
    code: 36887,
    message: "A fatal alert was received from the remote endpoint. The TLS protocol defined " +
      "fatal alert code is 46.",
    strings: ["46"],
  },
  {
    log: "Application",
    source: ".NET Runtime",
    code: 1026,
    message: "Application: ReportWorker.exe\nFramework Version: v4.0.30319\nDescription: The " +
      "process was terminated due to an unhandled exception.",
    strings: ["ReportWorker.exe"],
  },
  {
    log: "Application",
    source: "ESENT",
    code: 455,
    message: "svchost (1234,R,98) TILEREPOSITORYS-1-5-18: Error -1023 (0xfffffc01) occurred " +
      "while opening logfile C:\\Windows\\system32\\config\\systemprofile\\AppData\\Local\\" +
      "TileDataLayer\\Database\\EDB.log.",
    strings: ["svchost", "1234,R,98"],
  },
];

const floodEntry = (ts: number): Entry => ({
  log: "Application",
  ts,
  source: "Application Error",
  code: 1000,
  message: "Faulting application name: w3wp.exe, version: 10.0.17763.1, time stamp: 0xcfd05fa4\n" +
    "Faulting module name: clr.dll, version: 4.8.4515.0, time stamp: 0x61e9d6b4\n" +
    "Exception code: 0xc00000fd",
  strings: ["w3wp.exe", "10.0.17763.1", "clr.dll"],
});

/** Starts of the `periodMs` windows (phase from `salt`) that begin in (from, to]. */
function windowStarts(h: HostProfile, salt: number, periodMs: number, from: number, to: number) {
  const phase = Math.floor(unit(h.seed, salt) * periodMs);
  const out: number[] = [];
  let k = Math.floor((from - phase) / periodMs);
  for (let t = phase + k * periodMs; t <= to; t = phase + ++k * periodMs) {
    if (t > from) out.push(t);
  }
  return out;
}

const second = (t: number) => Math.ceil(t / 1000) * 1000;

/** Every error entry generated in (from, to]. */
export function hostEvents(h: HostProfile, from: number, to: number): Entry[] {
  const out: Entry[] = [];
  const rate = unit(h.seed, 170) * 0.6;
  // Background: at most one entry of each log per 10-minute slot; odd 100 ms offsets keep
  // their record numbers apart from the flood's (even offsets).
  for (let slot = Math.floor(from / SLOT_MS) * SLOT_MS; slot <= to; slot += SLOT_MS) {
    for (const log of ["System", "Application"] as const) {
      const key = Math.floor(slot / SLOT_MS) * 2 + (log === "System" ? 0 : 1);
      if (unit(h.seed ^ key, 171) >= rate) continue;
      const pool = BACKGROUND.filter((b) => b.log === log);
      const b = pool[Math.floor(unit(h.seed ^ key, 172) * pool.length)];
      const ts = slot + Math.floor(unit(h.seed ^ key, 173) * 599) * 1000 + 100;
      if (ts > from && ts <= to) out.push({ ...b, ts });
    }
  }
  // Service Control Manager: SQL Server and the spooler dying (see wmi_services.ts).
  const scm = (ts: number, display: string) =>
    out.push({
      log: "System",
      ts: second(ts) + 300,
      source: "Service Control Manager",
      code: 7034,
      message: `The ${display} service terminated unexpectedly.  It has done this 1 time(s).`,
      strings: [display, "1"],
    });
  if (isSqlHost(h)) {
    for (const t of windowStarts(h, 104, 120 * MIN, from - 1000, to - 300)) {
      scm(t, "SQL Server (MSSQLSERVER)");
    }
  }
  if (unit(h.seed, 102) < 0.2) {
    for (const t of windowStarts(h, 103, 60 * MIN, from - 1000, to - 300)) scm(t, "Print Spooler");
  }
  // An unplanned reboot (Winsim.reboot) leaves Kernel-Power 41 half a minute after boot.
  const boot = bootAt(h, to);
  if (h.rebootedAt !== undefined && boot === h.rebootedAt) {
    const ts = second(boot + 30_000) + 500;
    if (ts > from && ts <= to) {
      out.push({
        log: "System",
        ts,
        source: "Microsoft-Windows-Kernel-Power",
        code: 41,
        message: "The system has rebooted without cleanly shutting down first. This error " +
          "could be caused if the system stopped responding, crashed, or lost power unexpectedly.",
        strings: ["0", "0x0"],
      });
    }
  }
  // The flood: on one host in three every 3 hours, or when asked for (Winsim.eventFlood).
  const floods = unit(h.seed, 174) < 0.3
    ? windowStarts(h, 175, FLOOD_PERIOD_MS, from - FLOOD_MS, to)
    : [];
  if (h.floodFrom !== undefined) floods.push(h.floodFrom);
  for (const start of floods) {
    const first = second(start);
    const lo = Math.max(first, from + 1);
    let t = first + Math.ceil((lo - first) / FLOOD_EVERY_MS) * FLOOD_EVERY_MS;
    for (; t < first + FLOOD_MS && t <= to; t += FLOOD_EVERY_MS) out.push(floodEntry(t));
  }
  return out.sort((a, b) => b.ts - a.ts);
}

export const ntLogEvent = defineClass(
  "Win32_NTLogEvent",
  ["Logfile", "RecordNumber"],
  false,
  `Category CategoryString ComputerName Data EventCode EventIdentifier EventType
   InsertionStrings Logfile Message RecordNumber SourceName TimeGenerated TimeWritten Type User`,
  (h, now, hint) => {
    const from = Math.max(hint?.since ?? now - 60 * MIN, now - 24 * 60 * MIN);
    return hostEvents(h, from, now).map((e): Instance => ({
      Category: 0,
      CategoryString: null,
      ComputerName: h.domain ? `${h.name}.${h.domain}` : h.name,
      EventCode: e.code,
      // The qualifiers sit in the high 16 bits (0xC000 for Service Control Manager errors).
      EventIdentifier: e.source === "Service Control Manager" ? 0xc0000000 + e.code : e.code,
      EventType: 1,
      InsertionStrings: e.strings,
      Logfile: e.log,
      Message: e.message,
      RecordNumber: Math.floor((e.ts - RECORD_EPOCH) / 100),
      SourceName: e.source,
      TimeGenerated: { datetime: e.ts },
      TimeWritten: { datetime: e.ts },
      Type: "Error",
      User: e.source === "DCOM" ? "NT AUTHORITY\\SYSTEM" : null,
    }));
  },
);
