/** Pure parts of the simulator: WQL, addresses, fault specs, rendering, host data. */
import { assert, assertEquals, assertNotEquals, assertThrows } from "../helpers/assert.ts";
import { parseFaultSpec } from "../../winsim/faults.ts";
import { hostAddresses } from "../../winsim/hosts.ts";
import { cimDatetime, renderInstance } from "../../winsim/render.ts";
import { CLASSES } from "../../winsim/wmi_disk_net.ts";
import { hostProfile } from "../../winsim/profile.ts";
import { evaluate, parseWql, WqlSyntaxError } from "../../winsim/wql.ts";

Deno.test("wql: select lists, classes and where clauses, case-insensitively", () => {
  assertEquals(parseWql("SELECT * FROM Win32_OperatingSystem"), {
    properties: null,
    className: "Win32_OperatingSystem",
    where: null,
  });
  const q = parseWql(
    "select DeviceID , Size,FreeSpace from Win32_LogicalDisk where DriveType = 3 and Name <> 'X:'",
  );
  assertEquals(q.properties, ["DeviceID", "Size", "FreeSpace"]);
  assertEquals(q.className, "Win32_LogicalDisk");
  const disk = (props: Record<string, unknown>) => (p: string) => props[p];
  assert(evaluate(q.where!, disk({ DriveType: 3, Name: "C:" })));
  assert(!evaluate(q.where!, disk({ DriveType: 5, Name: "E:" })));
  assert(
    !evaluate(q.where!, disk({ DriveType: 3, Name: "x:" })),
    "strings compare case-insensitively",
  );

  const total = parseWql(`SELECT PercentProcessorTime FROM P WHERE Name="_Total"`);
  assert(evaluate(total.where!, disk({ Name: "_TOTAL" })));
  const nested = parseWql("SELECT * FROM C WHERE NOT (A = 1 OR B >= 2.5) AND C IS NOT NULL");
  assert(evaluate(nested.where!, disk({ A: 0, B: 2, C: "x" })));
  assert(!evaluate(nested.where!, disk({ A: 0, B: 3, C: "x" })));
  assert(!evaluate(nested.where!, disk({ A: 0, B: 2, C: null })));
  assert(evaluate(parseWql("SELECT * FROM C WHERE Flag = TRUE").where!, disk({ Flag: true })));
});

Deno.test("wql: malformed queries are syntax errors", () => {
  for (
    const bad of [
      "",
      "SELECT FROM X",
      "SELECT * X",
      "SELECT * FROM",
      "SELECT a, FROM X",
      "SELECT * FROM X WHERE",
      "SELECT * FROM X WHERE a = ",
      "SELECT * FROM X WHERE a = 'unterminated",
      "SELECT * FROM X trailing",
      "DELETE FROM X",
    ]
  ) {
    assertThrows(() => parseWql(bad), WqlSyntaxError, undefined);
  }
});

Deno.test("addresses: consecutive from base, skipping .0 and .255", () => {
  assertEquals(hostAddresses("127.0.10.1", 3), ["127.0.10.1", "127.0.10.2", "127.0.10.3"]);
  assertEquals(hostAddresses("127.0.10.254", 3), ["127.0.10.254", "127.0.11.1", "127.0.11.2"]);
  assertEquals(hostAddresses("127.0.10.1", 1000).length, 1000);
  assertEquals(new Set(hostAddresses("127.0.10.1", 1000)).size, 1000);
  assertThrows(() => hostAddresses("127.255.255.250", 10), Error, "127.0.0.0/8");
});

Deno.test("fault specs parse from the command line", () => {
  const spec = parseFaultSpec("127.0.10.3=hang, 127.0.10.4=slow:250,127.0.10.5=fault:TimedOut");
  assertEquals(spec.get("127.0.10.3"), { kind: "hang" });
  assertEquals(spec.get("127.0.10.4"), { kind: "slow", ms: 250 });
  assertEquals(spec.get("127.0.10.5"), { kind: "fault", subcode: "TimedOut" });
  assertThrows(() => parseFaultSpec("127.0.10.3=explode"), Error, "unknown fault");
  assertThrows(() => parseFaultSpec("127.0.10.3"), Error, "ip=fault");
});

Deno.test("rendering: alphabetical properties, nil, datetimes, fragments", () => {
  assertEquals(cimDatetime(Date.UTC(2013, 3, 10, 16, 17, 23, 500)), "2013-04-10T16:17:23.5Z");
  assertEquals(cimDatetime(Date.UTC(2013, 3, 10)), "2013-04-10T00:00:00Z");
  const os = CLASSES.get("win32_operatingsystem")!;
  const inst = os.instances(hostProfile("127.0.10.1", 0), Date.now())[0];
  const star = renderInstance(os, inst, null);
  assert(
    star.startsWith(
      '<p:Win32_OperatingSystem xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
    ),
  );
  const names = [...star.matchAll(/<p:(\w+)[ >/]/g)].map((m) => m[1]).slice(1);
  assertEquals(names, [...names].sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : 1));
  assert(names.indexOf("Caption") < names.indexOf("CSName"), "Windows sorts case-insensitively");
  assert(star.includes('<p:OtherTypeDescription xsi:nil="true"/>'));
  assert(/<p:LastBootUpTime><cim:Datetime>[^<]+<\/cim:Datetime><\/p:LastBootUpTime>/.test(star));
  const frag = renderInstance(os, inst, ["CSName", "LastBootUpTime"]);
  assert(
    /^<w:XmlFragment [^>]*><CSName>WINSIM-0001<\/CSName><LastBootUpTime><Datetime>/.test(frag),
  );
});

Deno.test("host data: deterministic per host, different across hosts, moving over time", () => {
  const os = CLASSES.get("win32_operatingsystem")!;
  const net = CLASSES.get("win32_perfformatteddata_tcpip_networkinterface")!;
  const a = hostProfile("127.0.10.1", 0);
  const b = hostProfile("127.0.10.2", 1);
  const t = Date.UTC(2026, 0, 1);
  assertEquals(os.instances(a, t), os.instances(hostProfile("127.0.10.1", 0), t));
  assertNotEquals(os.instances(a, t)[0].CSName, os.instances(b, t)[0].CSName);
  const free = [0, 1, 2, 3].map((m) => os.instances(a, t + m * 60_000)[0].FreePhysicalMemory);
  assert(new Set(free).size > 1, "free memory moves");
  for (const nic of net.instances(a, t)) {
    for (
      const p of [
        "BytesReceivedPersec",
        "BytesSentPersec",
        "BytesTotalPersec",
        "CurrentBandwidth",
        "PacketsReceivedPersec",
        "PacketsSentPersec",
        "PacketsReceivedErrors",
        "PacketsOutboundErrors",
        "PacketsReceivedDiscarded",
        "PacketsOutboundDiscarded",
      ]
    ) assertEquals(typeof nic[p], "number", p);
  }
  const cs = CLASSES.get("win32_computersystem")!.instances(a, t)[0];
  assert(
    (cs.TotalPhysicalMemory as number) >
      (os.instances(a, t)[0].TotalVisibleMemorySize as number) * 1024,
  );
});
