/**
 * NMSlite's WMI client against the simulator over real loopback sockets: every class the
 * collector reads (the same values as the WinRM side), paging over many objects, connection
 * reuse, and the failures: access denied, a class that does not exist, a wrong password, a
 * connection dropped mid-enumeration, a tampered PDU, a host that does not answer.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { freePort } from "../helpers/ports.ts";
import { startWinsim, type Winsim } from "../../winsim/mod.ts";
import { prop, WinrmClient } from "../../lib/winrm/mod.ts";
import { connectionBudget } from "../../lib/winrm/budget.ts";
import {
  RpcUnavailableError,
  WmiAccessDeniedError,
  WmiAuthenticationError,
  WmiCallError,
  WmiClient,
  type WmiClientOptions,
  WmiError,
  WmiIntegrityError,
  WmiPortBlockedError,
  WmiProtocolError,
  WmiQueryLimitError,
  type WmiQueryLimits,
  WmiReplyTooLargeError,
  WmiTimeoutError,
} from "../../lib/wmi/mod.ts";
import { collect } from "../../lib/collectors/windows_winrm.ts";
import { collectWmi, collectWmiProfile, identifyWmi } from "../../lib/collectors/windows_wmi.ts";
import { collectProfile } from "../../lib/collectors/windows_winrm.ts";
import { resolveCollection } from "../../lib/collectors/collection_profile.ts";
import { WQL } from "../../lib/collectors/windows_winrm.ts";

const PASSWORD = "Wmi-Passw0rd!";

async function withSim(
  fn: (sim: Winsim) => Promise<void>,
  hosts = 1,
  extra: Partial<Parameters<typeof startWinsim>[0]> = {},
) {
  const sim = await startWinsim({
    hosts,
    base: "127.0.172.1",
    httpPort: 0,
    httpsPort: null,
    password: PASSWORD,
    ...extra,
  });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

function wmiFor(sim: Winsim, extra: Partial<WmiClientOptions> = {}, i = 0): WmiClient {
  const h = sim.hosts[i];
  return new WmiClient({
    host: h.ip,
    port: h.rpcPort!,
    username: sim.username,
    password: PASSWORD,
    timeouts: { connectMs: 3000, callMs: 5000 },
    ...extra,
  });
}

function winrmFor(sim: Winsim, i = 0): WinrmClient {
  const h = sim.hosts[i];
  return new WinrmClient({
    host: h.ip,
    port: h.httpPort,
    https: false,
    auth: "ntlm",
    username: sim.username,
    password: PASSWORD,
    allowUnencrypted: false,
  });
}

async function rejects<E extends Error>(
  p: Promise<unknown>,
  cls: new (...a: never[]) => E,
): Promise<E> {
  try {
    await p;
  } catch (e) {
    assert(e instanceof cls, `expected ${cls.name}, got ${(e as Error)?.name}: ${e}`);
    return e as E;
  }
  throw new Error(`expected ${cls.name}, nothing was thrown`);
}

const STATIC: Record<keyof typeof WQL, string[]> = {
  cpu: [],
  memory: ["TotalVisibleMemorySize"],
  disks: ["DeviceID", "Size"],
  network: ["Name", "CurrentBandwidth"],
  os: ["Caption", "Version", "BuildNumber", "CSName", "TotalVisibleMemorySize"],
  computer: ["Name", "Domain", "PartOfDomain", "TotalPhysicalMemory"],
  bios: ["SerialNumber"],
};

Deno.test("every class the collector reads: same rows, properties and static values as WinRM", async () => {
  await withSim(async (sim) => {
    const wmi = wmiFor(sim);
    const winrm = winrmFor(sim);
    try {
      for (const [name, wql] of Object.entries(WQL) as [keyof typeof WQL, string][]) {
        const viaDcom = await wmi.query(wql);
        const [viaWinrm] = await winrm.enumerateAll([wql]);
        assertEquals(viaDcom.length, viaWinrm.length, `${name}: row count`);
        assert(viaDcom.length > 0, `${name}: rows`);
        for (const [i, row] of viaDcom.entries()) {
          assertEquals(
            Object.keys(row).map((k) => k.toLowerCase()).sort(),
            Object.keys(viaWinrm[i]).map((k) => k.toLowerCase()).sort(),
            `${name}: properties`,
          );
          for (const p of STATIC[name]) {
            // WS-Man's XML text comes trimmed and untyped (the WinRM parser reads "14393" as a
            // number); WMI keeps Windows' trailing blanks (Caption) and the CIM type (string)
            const trim = (v: unknown) => String(v).trim();
            assertEquals(trim(row[p]), trim(prop(viaWinrm[i], p)), `${name}: ${p}`);
          }
        }
      }
      // 64-bit values arrive as integers, not strings
      const [os] = await wmi.query(WQL.memory);
      assertEquals(typeof os.FreePhysicalMemory, "number");
      assertEquals(wmi.counters.connects, 1, "one connection for all the queries");
    } finally {
      await wmi.close();
      winrm.close();
    }
  });
});

Deno.test("collect and identify over WMI fill the same document as over WinRM", async () => {
  await withSim(async (sim) => {
    const wmi = wmiFor(sim);
    const winrm = winrmFor(sim);
    try {
      const a = await collectWmi(wmi);
      const b = await collect(winrm);
      assertEquals(a.memory_total, b.memory_total);
      assertEquals(a.disk_total, b.disk_total);
      assertEquals(
        a.volumes?.map((v) => [v.name, v.total]),
        b.volumes?.map((v) => [v.name, v.total]),
      );
      assertEquals(
        a.interfaces?.map((i) => [i.name, i.bandwidth_bps]),
        b.interfaces?.map((i) => [i.name, i.bandwidth_bps]),
      );
      assert(typeof a.cpu_percent === "number" && a.cpu_percent >= 0 && a.cpu_percent <= 100);
      assert(typeof a.process_count === "number" && a.process_count > 0);
      assert(typeof a.memory_used === "number" && a.memory_used > 0);
      const id = await identifyWmi(wmi);
      assertEquals(id.hostname, sim.hosts[0].name);
      assert(id.os?.startsWith("Microsoft Windows"), String(id.os));
    } finally {
      await wmi.close();
      winrm.close();
    }
  });
});

Deno.test("extended and full over WMI: the same parts as over WinRM, events bounded, classes missing named", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    sim.steady(ip); // its disk latency is asserted in milliseconds: no spike window
    const wmi = wmiFor(sim);
    const winrm = winrmFor(sim);
    try {
      const extended = resolveCollection({ profile: "extended", top_processes: 5 });
      const [a, b] = [
        await collectWmiProfile(wmi, extended),
        await collectProfile(winrm, extended),
      ];
      assertEquals(a.doc.partial, undefined);
      assertEquals(a.doc.boot_time, b.doc.boot_time);
      assert(a.hostTime !== null && Math.abs(a.hostTime - b.hostTime!) < 5_000);
      assertEquals(a.doc.cpu_cores?.map((c) => c.name), b.doc.cpu_cores?.map((c) => c.name));
      assertEquals(
        a.doc.physical_disks?.map((d) => d.name),
        b.doc.physical_disks?.map((d) => d.name),
      );
      assertEquals(a.doc.page_file_total, b.doc.page_file_total);
      assertEquals(
        a.doc.services?.map((s) => [s.name, s.start_mode]),
        b.doc.services?.map((s) => [s.name, s.start_mode]),
      );
      assertEquals(a.doc.services!.length, sim.instances(ip, "Win32_Service").length);
      assert(a.doc.processes!.length >= 5 && a.doc.processes!.length <= 10);
      assert(a.doc.processes!.every((p) => p.cpu_percent !== null && p.memory > 0));
      // the raw disk counters come over DCOM too: the next poll's latency is in milliseconds
      await new Promise((r) => setTimeout(r, 1_100));
      const next = await collectWmiProfile(wmi, { ...extended, diskLatency: a.diskLatency });
      assert(
        next.doc.physical_disks!.every((d) => d.sec_per_transfer > 0 && d.sec_per_transfer < 0.01),
        JSON.stringify(next.doc.physical_disks),
      );

      // full: the event log since a time, at most max_events of the newest, truncated flagged
      sim.eventFlood(ip, Date.now() - 10_000);
      const full = resolveCollection({ profile: "full", max_events: 20 });
      const since = Date.now() - 30_000;
      const f = await collectWmiProfile(wmi, { ...full, eventsSince: since });
      assertEquals(f.doc.events!.length, 20);
      assertEquals(f.doc.events_truncated, true);
      assert(f.doc.events!.every((e) => Date.parse(e.ts) > since && e.level === "error"));
      const times = f.doc.events!.map((e) => Date.parse(e.ts));
      assertEquals(times, [...times].sort((x, y) => y - x), "newest first");

      // a class the host lacks leaves its part out and names it; the session goes on
      sim.setFault(ip, { kind: "missing-class", classes: ["Win32_PageFileUsage"] });
      const p = await collectWmiProfile(wmi, extended);
      assertEquals(p.doc.partial?.map((x) => [x.part, x.class]), [[
        "page_file",
        "Win32_PageFileUsage",
      ]]);
      assertEquals(p.doc.page_file_total, undefined);
      assert(p.doc.services!.length > 10);
      sim.setFault(ip, { kind: "denied-class", classes: ["Win32_NTLogEvent"] });
      const d = await collectWmiProfile(wmi, { ...full, eventsSince: since });
      assertEquals(d.doc.partial?.map((x) => [x.part, x.class]), [["events", "Win32_NTLogEvent"]]);
      assert(d.doc.partial![0].reason.startsWith("access_denied: "), d.doc.partial![0].reason);
      assertEquals(d.doc.events, undefined);
      assert(d.doc.services!.length > 10, "the other parts still came");
    } finally {
      await wmi.close();
      winrm.close();
    }
  });
});

Deno.test("paging over many objects: small batches and multi-fragment replies agree", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const q = "SELECT ProcessId, Name, WorkingSetSize, CreationDate FROM Win32_Process";
    const small = wmiFor(sim, { batch: 7 });
    const big = wmiFor(sim, { batch: 500 });
    try {
      const before = sim.instances(ip, "Win32_Process").length;
      const pullsBefore = sim.stats(ip).pulls;
      const a = await small.query(q);
      const b = await big.query(q);
      const after = sim.instances(ip, "Win32_Process").length;
      assert(a.length >= 60, `many objects (${a.length})`);
      assert(a.length === before || a.length === after, `count ${a.length} vs ${before}/${after}`);
      // the simulated host starts and ends processes at the end of its list as time goes by:
      // the two answers agree as far as both go
      const both = Math.min(a.length, b.length);
      assert(both >= 60, `many objects in both (${a.length}, ${b.length})`);
      assertEquals(
        a.map((r) => r.ProcessId).slice(0, both),
        b.map((r) => r.ProcessId).slice(0, both),
      );
      assert(a[5].CreationDate instanceof Date, "datetimes become Dates");
      // 7 per Next: ceil(n/7) Next calls (the last comes with WBEM_S_FALSE), plus 1 for b
      const nexts = sim.stats(ip).pulls - pullsBefore;
      assertEquals(nexts, Math.ceil((a.length + 1) / 7) + 1);
      // b's single reply is far above the 5840-byte fragment size: it was reassembled
      assert(big.counters.bytes > 5840 * 4, `bytes ${big.counters.bytes}`);
    } finally {
      await small.close();
      await big.close();
    }
  });
});

Deno.test("a reply past maxReplyBytes is refused: the connection dropped, not asked again", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const q = "SELECT ProcessId, Name, WorkingSetSize, CreationDate FROM Win32_Process";
    // the process list in one reply is past 20 KB (the paging test); the BIOS row is ~2 KB
    const wmi = wmiFor(sim, { batch: 500, maxReplyBytes: 12_000 });
    try {
      assertEquals((await wmi.query(WQL.bios)).length, 1);
      const conns = sim.stats(ip).connections;
      const e = await rejects(wmi.query(q), WmiReplyTooLargeError);
      assertEquals(e.kind, "protocol");
      assert(e.message.includes("12000"), e.message);
      // the kept session was used and dropped; the same answer is not fetched a second time
      assertEquals(wmi.counters.connects, 1);
      assertEquals(sim.stats(ip).connections, conns);
      // the next query connects afresh and works
      assertEquals((await wmi.query(WQL.bios)).length, 1);
      assertEquals(wmi.counters.connects, 2);
      // the default bound takes the same list
      const roomy = wmiFor(sim, { batch: 500 });
      assert((await roomy.query(q)).length >= 60);
      await roomy.close();
    } finally {
      await wmi.close();
    }
  });
});

Deno.test("a query past its caps (objects, Next calls, bytes) is given up, the session kept", async () => {
  // A host that never says "no more" was read until the poll's deadline, into the poller's
  // memory (4 GB in 36 s without one). Each cap is tried here below the simulated process list.
  await withSim(async (sim) => {
    const q = "SELECT ProcessId, Name, WorkingSetSize, CreationDate FROM Win32_Process";
    const cases: [Partial<WmiQueryLimits>, number, "objects" | "nexts" | "bytes"][] = [
      [{ maxObjects: 20 }, 7, "objects"],
      [{ maxNexts: 3 }, 7, "nexts"],
      [{ maxBytes: 8_000 }, 500, "bytes"],
    ];
    for (const [limits, batch, limit] of cases) {
      const wmi = wmiFor(sim, { batch, limits });
      try {
        const e = await rejects(wmi.query(q), WmiQueryLimitError);
        assertEquals([e.kind, e.limit], ["protocol", limit]);
        assert(e.message.includes("Win32_Process"), e.message);
        // given up once, not asked again; the session serves the next query
        assertEquals(wmi.counters.connects, 1);
        assertEquals((await wmi.query(WQL.bios)).length, 1);
        assertEquals(wmi.counters.connects, 1);
      } finally {
        await wmi.close();
      }
    }
    // the defaults take the whole list
    const roomy = wmiFor(sim, { batch: 7 });
    assert((await roomy.query(q)).length >= 60);
    await roomy.close();
  });
});

Deno.test("a kept connection serves many polls; close releases IWbemServices", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const wmi = wmiFor(sim);
    const conns = sim.stats(ip).connections;
    for (let i = 0; i < 5; i++) await collectWmi(wmi);
    assertEquals(wmi.counters.connects, 1);
    // a poll on a kept connection: 4 x (ExecQuery + Next), one RemRelease for the 4 enumerators
    const calls = wmi.counters.calls;
    await collectWmi(wmi);
    assertEquals(wmi.counters.calls - calls, 9);
    assertEquals(sim.stats(ip).connections - conns, 2, "135 once, the dynamic port once");
    await wmi.close();
  });
});

Deno.test("access denied, nonexistent class, wrong namespace: typed errors", async () => {
  await withSim(async (sim) => {
    const [a, b] = sim.hosts;
    sim.setFault(a.ip, { kind: "fault", subcode: "AccessDenied" });
    const denied = wmiFor(sim, {}, 0);
    const e = await rejects(denied.query(WQL.os), WmiAccessDeniedError);
    assertEquals(e.kind, "access_denied");
    assert(e.message.includes("0x80070005"), e.message);
    await denied.close();

    const wmi = wmiFor(sim, {}, 1);
    const c = await rejects(wmi.query("SELECT * FROM Win32_NoSuchThing"), WmiCallError);
    assertEquals(c.kind, "invalid_class");
    assert(c.message.includes("WBEM_E_INVALID_CLASS"), c.message);
    // the session survives a failed query
    assertEquals((await wmi.query(WQL.bios)).length, 1);
    await wmi.close();
    const ns = wmiFor(sim, { namespace: "root/nowhere" }, 1);
    assertEquals((await rejects(ns.query(WQL.bios), WmiCallError)).kind, "invalid_namespace");
    await ns.close();
    assert(b.ip !== a.ip);
  }, 2);
});

Deno.test("a wrong password is one failed logon per poll and an auth error", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const wmi = wmiFor(sim, { password: "not-the-password" });
    const before = sim.stats(ip).authFailures;
    const e = await rejects(collectWmi(wmi), WmiAuthenticationError);
    assertEquals(e.kind, "auth");
    assertEquals(sim.stats(ip).authFailures - before, 1);
    await rejects(collectWmi(wmi), WmiAuthenticationError);
    assertEquals(sim.stats(ip).authFailures - before, 2);
    assert(!e.message.includes("not-the-password"));
    await wmi.close();
  });
});

Deno.test("a connection dropped mid-enumeration fails the query; the next one reconnects", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const wmi = wmiFor(sim, { batch: 5 });
    try {
      await wmi.query(WQL.bios);
      sim.setFault(ip, { kind: "reset" });
      await rejects(wmi.query("SELECT ProcessId FROM Win32_Process"), WmiProtocolError);
      sim.setFault(ip, null);
      assert((await wmi.query("SELECT ProcessId FROM Win32_Process")).length > 10);
      // a failure on a kept connection is retried once on a fresh one (the kept one may have
      // gone stale), which the fault drops too; the query after the fault connects again
      assertEquals(wmi.counters.connects, 3);
    } finally {
      await wmi.close();
    }
  });
});

Deno.test("a tampered reply PDU is refused by its signature", async () => {
  await withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const wmi = wmiFor(sim);
    try {
      await wmi.query(WQL.bios);
      sim.setFault(ip, { kind: "malformed" });
      const e = await rejects(wmi.query(WQL.os), WmiIntegrityError);
      assertEquals(e.kind, "integrity");
    } finally {
      await wmi.close();
    }
  });
});

Deno.test("nothing on 135 is RPC server unavailable; a host that never answers times out", async () => {
  const port = await freePort("127.0.0.1");
  const none = new WmiClient({ host: "127.0.0.1", port, username: "u", password: "p" });
  const e = await rejects(none.query(WQL.os), RpcUnavailableError);
  assert(e.message.includes("0x800706BA"), e.message);
  await withSim(async (sim) => {
    sim.setFault(sim.hosts[0].ip, { kind: "hang" });
    const wmi = wmiFor(sim, { timeouts: { connectMs: 1000, callMs: 300 } });
    const t = await rejects(wmi.query(WQL.os), WmiTimeoutError);
    assertEquals(t.phase, "bind");
    await wmi.close();
    assert(t instanceof WmiError);
  });
});

Deno.test("135 answers but the dynamic WMI port is blocked: port blocked, naming the firewall gap", async () => {
  await withSim(
    async (sim) => {
      const h = sim.hosts[0];
      const wmi = wmiFor(sim);
      const e = await rejects(wmi.query(WQL.os), WmiPortBlockedError);
      assertEquals(e.kind, "port_blocked");
      assertEquals(e.port, h.wmiPort, "the port the activation advertised");
      assert(/dynamic RPC range/.test(e.message), e.message);
      assert(!e.message.includes(PASSWORD));
      // activation itself worked: the client got as far as the advertised port
      assert(sim.stats(h.ip).connections >= 1, "135 was reached");
      await wmi.close();
    },
    1,
    { wmiExporter: "blocked" },
  );
});

Deno.test("WMI connections live in the descriptor budget: more hosts than slots, all polled, never more open", async () => {
  await withSim(async (sim) => {
    const budget = connectionBudget();
    const before = budget.stats();
    budget.configure(3);
    const clients = sim.hosts.map((_, i) => wmiFor(sim, {}, i));
    let peak = 0;
    const watch = setInterval(() => peak = Math.max(peak, budget.stats().open), 0);
    try {
      for (let round = 0; round < 3; round++) {
        const polls = await Promise.all(clients.map((c) => c.queryAll([WQL.memory, WQL.disks])));
        for (const [memory, disks] of polls) {
          assertEquals(memory.length, 1);
          assert(disks.length >= 1);
        }
        peak = Math.max(peak, budget.stats().open);
      }
      const after = budget.stats();
      assert(peak <= 3, `at most 3 connections open at once, saw ${peak}`);
      assert(after.open <= 3, `open after the rounds: ${after.open}`);
      assert(after.waited > before.waited, "polls waited for a slot instead of failing");
      assert(after.idle >= 1, "some sessions are kept for the next poll");
      // two hosts polled in turn fit in the kept set: one logon each for six polls (the others
      // closed first: the budget keeps the sessions it has rather than replacing them)
      await Promise.all(clients.slice(2).map((c) => c.close()));
      const logons = () => clients[0].counters.connects + clients[1].counters.connects;
      const start = logons();
      for (let i = 0; i < 6; i++) await clients[i % 2].queryAll([WQL.memory]);
      assert(logons() - start <= 2, `${logons() - start} logons for 6 polls of 2 hosts`);
    } finally {
      clearInterval(watch);
      await Promise.all(clients.map((c) => c.close()));
      budget.configure(Infinity);
    }
    assertEquals(budget.stats().open, 0, "every slot came back");
  }, 8);
});
