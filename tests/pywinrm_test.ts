/**
 * Interop: Debian's pywinrm 0.3 (a real WinRM client) against the simulator in every mode a
 * poller uses: Basic and NTLM over HTTP and HTTPS, NTLM message encryption, WQL paging,
 * faults, bad credentials. Needs /usr/bin/python3 with python3-winrm and python3-requests-ntlm
 * (not the python3 on PATH); WINSIM_SKIP_PYWINRM=1 skips where they cannot be installed.
 */
import { assert, assertEquals, assertMatch } from "./helpers/assert.ts";
import { startWinsim, type Winsim } from "../winsim/mod.ts";

const PYTHON = "/usr/bin/python3";
const PROBE = new URL("../winsim/py/winrm_probe.py", import.meta.url).pathname;
const OPENSSL_CONF = new URL("./fixtures/openssl-legacy.cnf", import.meta.url).pathname;
const USER = "Administrator";
const PASSWORD = "S3cret:pass!";

interface Item {
  element: string;
  ns: string;
  props: Record<string, string | string[] | null>;
}
type Result =
  | { items: Item[]; batches: number; contexts: string[] }
  | { stdout: string; stderr: string; code: number }
  | { error: string; message: string };
type Op =
  | { op: "wql"; query: string; max?: number }
  | { op: "get"; class: string }
  | { op: "cmd"; command: string };

async function pywinrm(
  endpoint: string,
  transport: "basic" | "ntlm",
  ops: Op[],
  opts: { username?: string; password?: string } = {},
): Promise<Result[]> {
  const env: Record<string, string> = {
    PATH: "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    // ntlm_auth hashes a plain password with MD4, which OpenSSL 3 keeps in the legacy provider.
    OPENSSL_CONF,
    WINSIM_PY_PASSWORD: opts.password ?? PASSWORD,
    // requests would otherwise honour proxies and CA bundles from the environment
    // (pywinrm 0.3 ignores server_cert_validation='ignore' when REQUESTS_CA_BUNDLE is set).
    NO_PROXY: "*",
    no_proxy: "*",
  };
  const spec = { endpoint, transport, username: opts.username ?? USER, ops };
  const out = await new Deno.Command(PYTHON, {
    args: [PROBE, JSON.stringify(spec)],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert(out.success, `pywinrm probe failed: ${stderr}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)).results;
}

function items(r: Result): Item[] {
  assert("items" in r, `expected items, got ${JSON.stringify(r)}`);
  return r.items;
}

function error(r: Result): { error: string; message: string } {
  assert("error" in r, `expected an error, got ${JSON.stringify(r).slice(0, 300)}`);
  return r;
}

const WMI = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/";
const STANDARD_OPS: Op[] = [
  { op: "wql", query: "SELECT * FROM Win32_OperatingSystem" },
  { op: "wql", query: "SELECT DeviceID, Size, FreeSpace FROM Win32_LogicalDisk" },
  {
    op: "wql",
    query: "select Name, PercentProcessorTime from Win32_PerfFormattedData_PerfOS_Processor",
    max: 1,
  },
  { op: "wql", query: "SELECT * FROM Win32_NoSuchClass" },
  { op: "get", class: "Win32_ComputerSystem" },
  { op: "cmd", command: "hostname" },
];

/** The assertions every transport must pass: parsed values equal what the host simulates. */
function checkStandard(sim: Winsim, ip: string, results: Result[]): void {
  const [os, disks, cpus, unknown, cs, cmd] = results;
  const expectedOs = sim.instances(ip, "Win32_OperatingSystem")[0];
  const [osItem] = items(os);
  assertEquals(osItem.element, "Win32_OperatingSystem");
  assertEquals(osItem.ns, WMI + "Win32_OperatingSystem");
  assertEquals(osItem.props.CSName, sim.hosts.find((h) => h.ip === ip)!.name);
  assertEquals(osItem.props.Caption, expectedOs.Caption);
  assert((osItem.props.Caption as string).endsWith(" "), "Caption keeps its trailing space");
  assertEquals(osItem.props.TotalVisibleMemorySize, String(expectedOs.TotalVisibleMemorySize));
  assertMatch(osItem.props.LastBootUpTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assertEquals(osItem.props.OtherTypeDescription, null);

  const d = items(disks);
  assertEquals(d.map((i) => i.element), ["XmlFragment", "XmlFragment", "XmlFragment"]);
  assertEquals(
    d.map((i) => Object.keys(i.props)),
    Array(3).fill(["DeviceID", "FreeSpace", "Size"]),
  );
  assertEquals(d.map((i) => i.props.DeviceID), ["C:", "D:", "E:"]);
  assert(Number(d[0].props.Size) > 2 ** 32, "disk sizes are 64-bit");
  assertEquals(d[2].props.Size, null);

  // MaxElements=1: one instance per batch, Pull until EndOfSequence, a fresh context each time.
  const c = cpus as { items: Item[]; batches: number; contexts: string[] };
  const expectedCpus = sim.instances(ip, "Win32_PerfFormattedData_PerfOS_Processor");
  assertEquals(items(c).map((i) => i.props.Name), expectedCpus.map((i) => i.Name));
  assertEquals(c.batches, expectedCpus.length);
  assertEquals(new Set(c.contexts).size, c.contexts.length);

  const fault = error(unknown);
  assertEquals(fault.error, "WinRMError");
  assertMatch(fault.message, /2150858778/);
  assertMatch(fault.message, /CannotProcessFilter/);

  assertEquals(items(cs)[0].props.Name, sim.hosts.find((h) => h.ip === ip)!.name);
  assertEquals(
    items(cs)[0].props.TotalPhysicalMemory,
    String(sim.instances(ip, "Win32_ComputerSystem")[0].TotalPhysicalMemory),
  );
  assertEquals(cmd, {
    stdout: sim.hosts.find((h) => h.ip === ip)!.name + "\r\n",
    stderr: "",
    code: 0,
  });
}

Deno.test({
  name: "pywinrm 0.3 interoperates with the simulator",
  ignore: Deno.env.get("WINSIM_SKIP_PYWINRM") === "1",
  async fn(t) {
    const sim = await startWinsim({
      hosts: 4,
      base: "127.0.40.1",
      username: USER,
      password: PASSWORD,
      httpPort: 0,
      httpsPort: 0,
    });
    const strict = await startWinsim({
      hosts: 1,
      base: "127.0.41.1",
      username: USER,
      password: PASSWORD,
      httpPort: 0,
      httpsPort: 0,
      allowUnencrypted: false,
      cbtHardening: "strict",
    });
    const http = (h = sim.hosts[0]) => `http://${h.ip}:${h.httpPort}/wsman`;
    const https = (h = sim.hosts[0]) => `https://${h.ip}:${h.httpsPort}/wsman`;
    try {
      await t.step("Basic over HTTP", async () => {
        const h = sim.hosts[0];
        checkStandard(sim, h.ip, await pywinrm(http(h), "basic", STANDARD_OPS));
        const s = sim.stats(h.ip);
        assert(s.basicAuths >= STANDARD_OPS.length, "every request carried Basic");
        assertEquals(s.sealedMessages, 0);
      });

      await t.step("NTLM over HTTP with message encryption", async () => {
        const h = sim.hosts[1];
        checkStandard(sim, h.ip, await pywinrm(http(h), "ntlm", STANDARD_OPS));
        const s = sim.stats(h.ip);
        assert(s.authHandshakes >= 1, "an NTLM handshake completed");
        // Every SOAP request arrived sealed: none was accepted in clear.
        assertEquals(s.sealedMessages, s.requests - 3 * s.authHandshakes);
        assertEquals(s.basicAuths, 0);
      });

      await t.step("Basic over HTTPS", async () => {
        checkStandard(
          sim,
          sim.hosts[2].ip,
          await pywinrm(https(sim.hosts[2]), "basic", STANDARD_OPS),
        );
      });

      await t.step("NTLM over HTTPS with channel binding, DOMAIN\\user", async () => {
        const h = sim.hosts[3];
        const results = await pywinrm(https(h), "ntlm", STANDARD_OPS, {
          username: `${h.name}\\${USER}`,
        });
        checkStandard(sim, h.ip, results);
        assert(sim.stats(h.ip).authHandshakes >= 1);
        assertEquals(sim.stats(h.ip).sealedMessages, 0);
      });

      await t.step("a wrong password is InvalidCredentialsError", async () => {
        const op: Op[] = [{ op: "wql", query: "SELECT * FROM Win32_BIOS" }];
        for (
          const [url, transport] of [[http(), "basic"], [http(), "ntlm"], [
            https(),
            "ntlm",
          ]] as const
        ) {
          const [r] = await pywinrm(url, transport, op, { password: "wrong" });
          assertEquals(error(r).error, "InvalidCredentialsError", `${transport} ${url}`);
        }
        assert(sim.stats(sim.hosts[0].ip).authFailures >= 3);
      });

      await t.step(
        "AllowUnencrypted=false: Basic over HTTP refused, NTLM sealed works",
        async () => {
          const h = strict.hosts[0];
          const op: Op[] = [{ op: "wql", query: "SELECT SerialNumber FROM Win32_BIOS" }];
          const [basic] = await pywinrm(http(h), "basic", op);
          assertEquals(error(basic).error, "InvalidCredentialsError");
          const [ntlm] = await pywinrm(http(h), "ntlm", op);
          assertEquals(
            items(ntlm)[0].props.SerialNumber,
            strict.instances(h.ip, "Win32_BIOS")[0].SerialNumber,
          );
        },
      );

      await t.step("CbtHardeningLevel=Strict: NTLM over HTTPS binds the channel", async () => {
        const h = strict.hosts[0];
        const op: Op[] = [{ op: "wql", query: "SELECT SerialNumber FROM Win32_BIOS" }];
        const [ntlm] = await pywinrm(https(h), "ntlm", op);
        assertEquals(
          items(ntlm)[0].props.SerialNumber,
          strict.instances(h.ip, "Win32_BIOS")[0].SerialNumber,
        );
      });

      await t.step(
        "extended and full profile classes: projections, paging, WQL datetime",
        async () => {
          const h = sim.hosts[1];
          // on a whole second: the simulator starts a flood at the next whole second, so an
          // unaligned start could leave up to a second (5 entries) out of the 5 s asked for
          const since = Math.floor(Date.now() / 1000) * 1000 - 5_000;
          sim.eventFlood(h.ip, since); // 5 Application Error entries a second
          const dmtf = new Date(since).toISOString().replace(/[-:T]/g, "").replace("Z", "000+000");
          const [services, procs, disks, pagefile, events] = await pywinrm(http(h), "ntlm", [
            {
              op: "wql",
              query: "SELECT Name, DisplayName, State, StartMode FROM Win32_Service",
              max: 10,
            },
            {
              op: "wql",
              query: "SELECT Name, IDProcess, PercentProcessorTime, WorkingSet, ThreadCount, " +
                "HandleCount FROM Win32_PerfFormattedData_PerfProc_Process",
            },
            {
              op: "wql",
              query: "SELECT Name, DiskReadsPersec, AvgDiskQueueLength, AvgDisksecPerTransfer " +
                "FROM Win32_PerfFormattedData_PerfDisk_PhysicalDisk",
            },
            { op: "wql", query: "SELECT * FROM Win32_PageFileUsage" },
            {
              op: "wql",
              query: "SELECT Logfile, RecordNumber, TimeGenerated, SourceName, EventCode, Type " +
                "FROM Win32_NTLogEvent WHERE (Logfile = 'System' OR Logfile = 'Application') " +
                `AND EventType <= 1 AND TimeGenerated > '${dmtf}'`,
              max: 7,
            },
          ]);
          const svc = services as { items: Item[]; batches: number; contexts: string[] };
          const expected = sim.instances(h.ip, "Win32_Service");
          assertEquals(items(svc).map((i) => i.props.Name), expected.map((i) => i.Name));
          assertEquals(svc.batches, Math.ceil(expected.length / 10), "paged 10 at a time");
          assertEquals(Object.keys(items(svc)[0].props), [
            "DisplayName",
            "Name",
            "StartMode",
            "State",
          ]);
          const p = items(procs);
          assertEquals(p[0].element, "XmlFragment");
          assertEquals(p.find((i) => i.props.Name === "System")!.props.IDProcess, "4");
          assert(p.some((i) => i.props.Name === "svchost#1"), "duplicate names get #n");
          assert(
            p.some((i) => i.props.Name === "_Total") && p.some((i) => i.props.Name === "Idle"),
          );
          assertEquals(items(disks).map((i) => i.props.Name), ["0 C:", "1 D:", "_Total"]);
          const [pf] = items(pagefile);
          assertEquals([pf.element, pf.props.AllocatedBaseSize], ["Win32_PageFileUsage", "4096"]);
          assertMatch(pf.props.InstallDate as string, /^\d{4}-\d\d-\d\dT/);
          const ev = events as { items: Item[]; batches: number; contexts: string[] };
          const entries = items(ev);
          const flood = entries.filter((i) => i.props.SourceName === "Application Error");
          assert(flood.length >= 24, `flood entries: ${flood.length}`);
          const times = flood.map((i) => Date.parse(i.props.TimeGenerated as string));
          for (let i = 1; i < times.length; i++) {
            assertEquals(times[i - 1] - times[i], 200, "newest first, one every 200 ms");
          }
          assertEquals(ev.batches, Math.ceil(entries.length / 7));
          for (const e of entries) {
            assert(Date.parse(e.props.TimeGenerated as string) > since, JSON.stringify(e.props));
            assert(["System", "Application"].includes(e.props.Logfile as string));
          }

          // A host without one class answers the others
          sim.setFault(h.ip, { kind: "missing-class", classes: ["Win32_Service"] });
          const [missing, os] = await pywinrm(http(h), "ntlm", [
            { op: "wql", query: "SELECT Name FROM Win32_Service" },
            { op: "wql", query: "SELECT Caption FROM Win32_OperatingSystem" },
          ]);
          assertMatch(error(missing).message, /CannotProcessFilter/);
          assertEquals(items(os).length, 1);
          sim.setFault(h.ip, { kind: "denied-class", classes: ["Win32_NTLogEvent"] });
          const [denied] = await pywinrm(http(h), "ntlm", [
            { op: "wql", query: "SELECT Message FROM Win32_NTLogEvent" },
          ]);
          assertMatch(error(denied).message, /w:AccessDenied/);
          sim.setFault(h.ip, null);
        },
      );

      await t.step("injected faults surface as pywinrm errors", async () => {
        const h = sim.hosts[0];
        const op: Op[] = [{ op: "wql", query: "SELECT * FROM Win32_OperatingSystem" }];
        sim.setFault(h.ip, { kind: "fault", subcode: "AccessDenied" });
        assertMatch(error((await pywinrm(http(h), "basic", op))[0]).message, /w:AccessDenied/);
        sim.setFault(h.ip, { kind: "unauthorized" });
        assertEquals(
          error((await pywinrm(http(h), "basic", op))[0]).error,
          "InvalidCredentialsError",
        );
        sim.setFault(h.ip, { kind: "malformed" });
        assertEquals(error((await pywinrm(http(h), "basic", op))[0]).error, "ParseError");
        sim.setFault(h.ip, null);
        assertEquals(items((await pywinrm(http(h), "basic", op))[0]).length, 1);
      });
    } finally {
      await sim.close();
      await strict.close();
    }
  },
});
