/**
 * An independent client against the simulator: impacket's wmiquery.py (Debian python3-impacket)
 * runs WQL over DCOM against a simulated host on TCP 135 and must get the values the
 * simulator's WinRM side returns for the same host.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { startWinsim, type Winsim } from "../../winsim/mod.ts";
import { prop, WinrmClient } from "../../lib/winrm/mod.ts";

const PASSWORD = "Imp-Passw0rd!";
const WMIQUERY = "/usr/share/doc/python3-impacket/examples/wmiquery.py";
const PYTHON = "/usr/bin/python3";

async function wmiquery(
  ip: string,
  queries: string[],
  password = PASSWORD,
): Promise<{ code: number; out: string }> {
  const file = await Deno.makeTempFile({ suffix: ".wql" });
  try {
    await Deno.writeTextFile(file, queries.join("\n") + "\n");
    const p = await new Deno.Command(PYTHON, {
      args: [WMIQUERY, "-file", file, `Administrator:${password}@${ip}`],
      stdout: "piped",
      stderr: "piped",
      env: { PYTHONWARNINGS: "ignore" },
    }).output();
    const dec = new TextDecoder();
    return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
  } finally {
    await Deno.remove(file);
  }
}

/** wmiquery's table: " | A | B | " header then "| a | b | " rows, per query. */
function tables(out: string): Record<string, string>[][] {
  const result: Record<string, string>[][] = [];
  let header: string[] | null = null;
  for (const line of out.split("\n")) {
    if (line.startsWith("WQL>")) {
      header = null;
      result.push([]);
      continue;
    }
    const cells = (s: string) =>
      s.trim().replace(/^\|/, "").replace(/\|\s*$/, "").split("|").map((c) => c.trim());
    if (line.startsWith(" | ")) header = cells(line);
    else if (line.startsWith("| ") && header && result.length) {
      const vals = cells(line);
      result[result.length - 1].push(Object.fromEntries(header.map((h, i) => [h, vals[i]])));
    }
  }
  return result;
}

async function withSim(fn: (sim: Winsim) => Promise<void>) {
  const sim = await startWinsim({
    hosts: 2,
    base: "127.0.171.1",
    httpPort: 0,
    httpsPort: null,
    rpcPort: 135, // wmiquery.py always activates on 135
    password: PASSWORD,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

async function winrm(sim: Winsim, i: number, wql: string) {
  const h = sim.hosts[i];
  const c = new WinrmClient({
    host: h.ip,
    port: h.httpPort,
    https: false,
    auth: "ntlm",
    username: sim.username,
    password: PASSWORD,
    allowUnencrypted: false,
  });
  try {
    const [items] = await c.enumerateAll([wql]);
    return items;
  } finally {
    c.close();
  }
}

const STATIC = [
  [
    "SELECT Caption, Version, BuildNumber, CSName, TotalVisibleMemorySize FROM Win32_OperatingSystem",
    [
      "Caption",
      "Version",
      "BuildNumber",
      "CSName",
      "TotalVisibleMemorySize",
    ],
  ],
  ["SELECT Name, Domain, PartOfDomain, TotalPhysicalMemory FROM Win32_ComputerSystem", [
    "Name",
    "Domain",
    "PartOfDomain",
    "TotalPhysicalMemory",
  ]],
  ["SELECT SerialNumber FROM Win32_BIOS", ["SerialNumber"]],
  ["SELECT DeviceID, Size, DriveType FROM Win32_LogicalDisk WHERE DriveType=3", [
    "DeviceID",
    "Size",
    "DriveType",
  ]],
  ["SELECT Name, CurrentBandwidth FROM Win32_PerfFormattedData_Tcpip_NetworkInterface", [
    "Name",
    "CurrentBandwidth",
  ]],
] as const;

/** impacket prints booleans as True/False; WinRM's parser gives true/false */
function norm(v: unknown): string {
  if (v === true) return "True";
  if (v === false) return "False";
  return String(v ?? "");
}

Deno.test({
  name: "impacket wmiquery.py gets the WinRM side's values from a simulated host over DCOM",
  sanitizeResources: false,
  async fn() {
    await withSim(async (sim) => {
      for (const i of [0, 1]) {
        const ip = sim.hosts[i].ip;
        const { code, out } = await wmiquery(ip, STATIC.map(([q]) => q));
        assertEquals(code, 0, out);
        const got = tables(out);
        assertEquals(got.length, STATIC.length, out);
        for (const [k, [q, props]] of STATIC.entries()) {
          const viaWinrm = await winrm(sim, i, q);
          assert(viaWinrm.length > 0, `WinRM returned nothing for ${q}`);
          assertEquals(got[k].length, viaWinrm.length, `row count of ${q}`);
          for (const [r, item] of viaWinrm.entries()) {
            for (const p of props) {
              // wmiquery strips nothing, but its table cells are trimmed by the parser
              assertEquals(got[k][r][p], norm(prop(item, p)).trim(), `${q} row ${r} ${p}`);
            }
          }
        }
        assertEquals(got[0][0].CSName, sim.hosts[i].name);
      }
      const stats = sim.stats(sim.hosts[0].ip);
      assert(stats.authHandshakes >= 2, "impacket authenticated over NTLM");
    });
  },
});

Deno.test({
  name: "impacket: unknown class is WBEM_E_INVALID_CLASS, wrong password fails the logon",
  sanitizeResources: false,
  async fn() {
    await withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      const bad = await wmiquery(ip, ["SELECT * FROM Win32_NoSuchClass"]);
      assert(bad.out.includes("WBEM_E_INVALID_CLASS"), bad.out);
      const before = sim.stats(ip).authFailures;
      const denied = await wmiquery(ip, ["SELECT Caption FROM Win32_OperatingSystem"], "wrong");
      assert(!denied.out.includes("Microsoft Windows"), denied.out);
      assert(/access_denied|rpc_s_access_denied|ACCESS_DENIED/i.test(denied.out), denied.out);
      assertEquals(sim.stats(ip).authFailures, before + 1);
    });
  },
});
