/** The simulator over real sockets: WS-Enumeration paging, WQL, Get, injected faults. */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { enumerate, pull, RawClient, release, SOAP, soap, withSim } from "./testing.ts";

const context = (xml: string) =>
  /<n:EnumerationContext>([^<]*)<\/n:EnumerationContext>/.exec(xml)?.[1];

Deno.test("enumeration: MaxElements paging, fresh contexts, Release, bad contexts", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const cpus = sim.instances(h.ip, "Win32_PerfFormattedData_PerfOS_Processor").length;
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      const q = "SELECT Name FROM Win32_PerfFormattedData_PerfOS_Processor";
      const first = await c.request("POST", SOAP, enumerate(q, 1));
      assertEquals(first.status, 200);
      assertMatch(
        first.text,
        /<n:EnumerateResponse><n:EnumerationContext>uuid:[0-9A-F-]{36}<\/n:EnumerationContext><w:Items><w:XmlFragment [^>]*><Name>0<\/Name><\/w:XmlFragment><\/w:Items><\/n:EnumerateResponse>/,
      );
      let ctx = context(first.text)!;
      const seen = [ctx];
      const names = ["0"];
      for (;;) {
        const r = await c.request("POST", SOAP, pull(ctx));
        assertEquals(r.status, 200);
        names.push(...[...r.text.matchAll(/<Name>([^<]+)<\/Name>/g)].map((m) => m[1]));
        if (r.text.includes("<n:EndOfSequence/>")) {
          assertEquals(context(r.text), undefined, "no context after the last batch");
          assertMatch(
            r.text,
            /<n:PullResponse><n:Items>.*<\/n:Items><n:EndOfSequence\/><\/n:PullResponse>/,
          );
          break;
        }
        ctx = context(r.text)!;
        assert(!seen.includes(ctx), "each Pull returns a fresh context");
        seen.push(ctx);
      }
      assertEquals(names.length, cpus);
      assertEquals(names.at(-1), "_Total");
      // A used-up context is gone.
      const stale = await c.request("POST", SOAP, pull(seen[0]));
      assertEquals(stale.status, 500);
      assertMatch(stale.text, /n:InvalidEnumerationContext/);

      // Without OptimizeEnumeration the first response has no items; one Pull takes all.
      const lazy = await c.request(
        "POST",
        SOAP,
        enumerate("SELECT * FROM Win32_LogicalDisk", 0, false),
      );
      assert(!lazy.text.includes("Items"));
      const all = await c.request("POST", SOAP, pull(context(lazy.text)!, 100));
      assertEquals([...all.text.matchAll(/<p:DeviceID>([^<]+)</g)].map((m) => m[1]), [
        "C:",
        "D:",
        "E:",
      ]);

      const open = await c.request("POST", SOAP, enumerate(q, 1));
      const rel = await c.request("POST", SOAP, release(context(open.text)!));
      assertEquals(rel.status, 200);
      assertMatch(rel.text, /enumeration\/ReleaseResponse/);
      assertEquals(sim.stats(h.ip).openContexts, 0);
    } finally {
      c.close();
    }
  });
});

Deno.test("enumeration: everything in one batch, WHERE filters, RelatesTo, faults", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[1];
    const c = await RawClient.connect(h.ip, h.httpPort);
    const post = (body: string) => c.request("POST", SOAP, body);
    try {
      const body = enumerate("SELECT * FROM Win32_OperatingSystem", 32000);
      const mid = /<a:MessageID>([^<]+)</.exec(body)![1];
      const os = await post(body);
      assertMatch(
        os.text,
        /<n:EnumerationContext><\/n:EnumerationContext><w:Items><p:Win32_OperatingSystem /,
      );
      assertMatch(os.text, /<\/w:Items><w:EndOfSequence\/><\/n:EnumerateResponse>/);
      assert(os.text.includes(`<a:RelatesTo>${mid}</a:RelatesTo>`));
      assert(os.text.includes(`<p:CSName>${h.name}</p:CSName>`));

      const total = await post(enumerate(
        "SELECT PercentProcessorTime FROM Win32_PerfFormattedData_PerfOS_Processor WHERE Name='_Total'",
        32000,
      ));
      assertEquals(total.text.match(/<PercentProcessorTime>/g)?.length, 1);
      const fixed = await post(
        enumerate("SELECT DeviceID FROM Win32_LogicalDisk WHERE DriveType=3", 32000),
      );
      assertEquals([...fixed.text.matchAll(/<DeviceID>([^<]+)</g)].map((m) => m[1]), ["C:", "D:"]);

      for (
        const q of [
          "SELECT * FROM Win32_NoSuchClass",
          "SELECT NoSuchProperty FROM Win32_BIOS",
          "SELECT * FROM Win32_BIOS WHERE",
        ]
      ) {
        const f = await post(enumerate(q, 32000));
        assertEquals(f.status, 500, q);
        assertMatch(f.text, /<s:Subcode><s:Value>n:CannotProcessFilter<\/s:Value>/);
        assertMatch(f.text, /Code="2150858778"/);
      }
      const noId = await post(
        enumerate("SELECT * FROM Win32_BIOS").replace(/<a:MessageID>[^<]*<\/a:MessageID>/, ""),
      );
      assertEquals(noId.status, 500);
      assertMatch(noId.text, /a:InvalidMessageInformationHeader/);
    } finally {
      c.close();
    }
  });
});

Deno.test("get: singletons, selectors, unknown resources", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    const uri = (cls: string) => `http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/${cls}`;
    const get = (cls: string, selectors?: Record<string, string>) =>
      c.request(
        "POST",
        SOAP,
        soap("http://schemas.xmlsoap.org/ws/2004/09/transfer/Get", "", {
          resourceUri: uri(cls),
          selectors,
        }),
      );
    try {
      const os = await get("Win32_OperatingSystem");
      assertEquals(os.status, 200);
      assertMatch(os.text, /transfer\/GetResponse<\/a:Action>.*<s:Body><p:Win32_OperatingSystem /);
      const disk = await get("Win32_LogicalDisk", { deviceid: "d:" });
      assertMatch(disk.text, /<p:DeviceID>D:<\/p:DeviceID>/);
      assertMatch((await get("Win32_LogicalDisk")).text, /w:InvalidSelectors/);
      assertMatch((await get("Win32_Nope")).text, /a:DestinationUnreachable/);
    } finally {
      c.close();
    }
  });
});

Deno.test("faults: reset, hang, slow, malformed, unknown-class, unauthorized, per host", async () => {
  await withSim(async (sim) => {
    const [a, b] = sim.hosts;
    const body = enumerate("SELECT * FROM Win32_BIOS", 10);
    const once = async (ip: string, port: number) => {
      const c = await RawClient.connect(ip, port);
      try {
        return await c.request("POST", SOAP, body);
      } finally {
        c.close();
      }
    };
    sim.setFault(a.ip, { kind: "reset" });
    const reset = await RawClient.connect(a.ip, a.httpPort);
    await reset.conn.write(
      new TextEncoder().encode(`POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n`),
    );
    assertEquals(await reset.eof(), null);
    reset.close();
    assertEquals((await once(b.ip, b.httpPort)).status, 200, "other hosts are unaffected");

    sim.setFault(a.ip, { kind: "hang" });
    const hang = await RawClient.connect(a.ip, a.httpPort);
    await hang.conn.write(
      new TextEncoder().encode(`POST /wsman HTTP/1.1\r\nContent-Length: 0\r\n\r\n`),
    );
    const raced = await Promise.race([
      hang.read().then(() => "answered", () => "closed"),
      new Promise((r) => setTimeout(() => r("silent"), 300)),
    ]);
    assertEquals(raced, "silent");
    hang.close();

    sim.setFault(a.ip, { kind: "slow", ms: 20 });
    assertEquals((await once(a.ip, a.httpPort)).status, 200);
    sim.setFault(a.ip, { kind: "malformed" });
    const bad = await once(a.ip, a.httpPort);
    assertEquals(bad.status, 200);
    assert(bad.text.endsWith("<<garbage") && !bad.text.includes("</s:Envelope>"));
    sim.setFault(a.ip, { kind: "unknown-class" });
    assertMatch((await once(a.ip, a.httpPort)).text, /CannotProcessFilter/);
    sim.setFault(a.ip, { kind: "fault", subcode: "TimedOut" });
    const timedOut = await once(a.ip, a.httpPort);
    assertEquals(timedOut.status, 500);
    assertMatch(timedOut.text, /w:TimedOut.*Code="2150858793"/);
    sim.setFault("*", { kind: "unauthorized" });
    assertEquals((await once(b.ip, b.httpPort)).status, 401);
    sim.setFault("*", null);
    assertEquals((await once(a.ip, a.httpPort)).status, 200);
  });
});

Deno.test("enumeration: MaxBatchItems and MaxEnvelopeSize split batches like Windows", async () => {
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      // MaxBatchItems=2 caps MaxElements=32000: the three disks need a Pull.
      const q = "SELECT DeviceID FROM Win32_LogicalDisk";
      const first = await c.request("POST", SOAP, enumerate(q, 32000));
      assertEquals(first.text.match(/<DeviceID>/g)?.length, 2);
      assert(!first.text.includes("EndOfSequence"));
      const rest = await c.request("POST", SOAP, pull(context(first.text)!, 32000));
      assertEquals(rest.text.match(/<DeviceID>/g)?.length, 1);
      assert(rest.text.includes("<n:EndOfSequence/>"));
    } finally {
      c.close();
    }
  }, { maxBatchItems: 2 });
  await withSim(async (sim) => {
    const h = sim.hosts[0];
    const c = await RawClient.connect(h.ip, h.httpPort);
    try {
      // A small MaxEnvelopeSize fits one full disk instance per batch.
      const body = enumerate("SELECT * FROM Win32_LogicalDisk", 32000)
        .replace("</env:Header>", "<w:MaxEnvelopeSize>4096</w:MaxEnvelopeSize></env:Header>");
      const first = await c.request("POST", SOAP, body);
      assertEquals(first.text.match(/<p:Win32_LogicalDisk /g)?.length, 1);
    } finally {
      c.close();
    }
  });
});

Deno.test("steady: a host without its planned reboots and disk latency spikes", async () => {
  // 127.0.10.1 (the default base) is one of the hosts that reboot every 6 h and whose disk D:
  // has a 2-minute latency spike every 40 minutes, at fixed times of the day
  await withSim((sim) => {
    const ip = sim.hosts[0].ip;
    const MIN = 60_000;
    const t0 = Date.now();
    const latencyOfD = (now: number) =>
      sim.instances(ip, "Win32_PerfFormattedData_PerfDisk_PhysicalDisk", now)
        .find((d) => d.Name === "1 D:")!.AvgDisksecPerTransfer as number;
    const boot = (now: number) =>
      (sim.instances(ip, "Win32_OperatingSystem", now)[0].LastBootUpTime as { datetime: number })
        .datetime;
    const spikeAt = Array.from({ length: 40 }, (_, i) => t0 + i * MIN)
      .find((t) => latencyOfD(t) > 0);
    assert(spikeAt !== undefined, "a spike within 40 minutes");
    const boots = (from: number) =>
      new Set(Array.from({ length: 7 * 60 }, (_, i) => boot(from + i * MIN))).size;
    assert(boots(t0) > 1, "a planned reboot within 7 hours");
    const raw = (now: number) =>
      sim.instances(ip, "Win32_PerfRawData_PerfDisk_PhysicalDisk", now)
        .find((d) => d.Name === "1 D:")!;
    const perTransfer = (a: number, b: number) => {
      const [x, y] = [raw(a), raw(b)];
      const ticks = ((y.AvgDisksecPerTransfer as number) - (x.AvgDisksecPerTransfer as number) +
        2 ** 32) % 2 ** 32;
      const n = (y.AvgDisksecPerTransfer_Base as number) - (x.AvgDisksecPerTransfer_Base as number);
      return ticks / (y.Frequency_PerfTime as number) / n;
    };

    sim.steady(ip);
    assertEquals(latencyOfD(spikeAt), 0, "no spike in the formatted class");
    const ms = perTransfer(spikeAt, spikeAt + 1_100);
    assert(ms > 0.0015 && ms < 0.0085, `milliseconds per transfer in the window, got ${ms}`);
    assertEquals(boots(t0), 1, "no planned reboot");
    return Promise.resolve();
  }, { base: "127.0.10.1", hosts: 1, tcpOnly: [] });
});
