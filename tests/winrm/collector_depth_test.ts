/** Collection profiles against winsim: what extended and full add, partial results, bounds. */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { collectProfile } from "../../lib/collectors/windows_winrm.ts";
import { parseMetricsDocument } from "../../lib/collectors/metrics_document.ts";
import { resolveCollection } from "../../lib/collectors/collection_profile.ts";
import { secondsPerTransfer } from "../../lib/collectors/windows_depth.ts";
import { WsmanFaultError } from "../../lib/winrm/mod.ts";
import { clientFor, using, withSim } from "./sim_helpers.ts";

const extended = resolveCollection({ profile: "extended", top_processes: 5 });
const full = resolveCollection({ profile: "full", top_processes: 5, max_events: 20 });

Deno.test("extended: 10 queries pipelined in one round trip, every part filled from the host", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      await collectProfile(c, resolveCollection(null)); // warm: handshake out of the way
      const before = sim.stats(ip);
      const { doc, hostTime } = await collectProfile(c, extended);
      const after = sim.stats(ip);
      assertEquals(after.requests - before.requests, 10);
      assertEquals(after.enumerations - before.enumerations, 10);
      assert(after.pipelinedRequests - before.pipelinedRequests >= 1);
      assertEquals(after.connections, 1);
      assertEquals(after.pulls, 0);
      parseMetricsDocument(doc); // what an exec plugin may print too

      const cpus = sim.instances(ip, "Win32_ComputerSystem")[0].NumberOfLogicalProcessors;
      assertEquals(doc.cpu_cores!.length, cpus);
      assert(doc.cpu_percent !== undefined && doc.memory_total! > 0 && doc.volumes!.length === 2);
      assert(hostTime !== null && Math.abs(hostTime - Date.now()) < 5_000);
      const boot = sim.instances(ip, "Win32_OperatingSystem")[0].LastBootUpTime as {
        datetime: number;
      };
      assertEquals(Date.parse(doc.boot_time!), boot.datetime);
      assert(Math.abs(doc.uptime_s! - (Date.now() - boot.datetime) / 1000) < 5);
      assertEquals(doc.physical_disks!.map((d) => d.name), ["0 C:", "1 D:"]);
      assertEquals(doc.page_file_total, 4096 * 1024 * 1024);
      assert(doc.processor_queue! >= 0 && doc.context_switches_ps! > 0);

      const services = sim.instances(ip, "Win32_Service");
      assertEquals(doc.services!.length, services.length);
      const winrm = doc.services!.find((s) => s.name === "WinRM")!;
      assertEquals([winrm.state, winrm.start_mode], ["Running", "Auto"]);

      // top 5 by CPU plus top 5 by memory, each process once, no _Total or Idle
      assert(doc.processes!.length >= 5 && doc.processes!.length <= 10);
      assert(!doc.processes!.some((p) => p.name === "_Total" || p.name === "Idle"));
      assert(doc.processes!.every((p) => p.cpu_percent !== null && p.cpu_percent <= 100));
      assertEquals(doc.partial, undefined);
    });
  }));

Deno.test("disk latency: exact milliseconds from the raw counters of two polls, not whole seconds", () =>
  withSim(async (sim) => {
    sim.steady(sim.hosts[0].ip); // no latency spike window during the test
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      const first = await collectProfile(c, extended);
      // the first poll has only the formatted figure: whole seconds, 0 for a healthy disk
      assertEquals(first.doc.physical_disks!.map((d) => d.sec_per_transfer), [0, 0]);
      assert(first.diskLatency?.["0 C:"], "raw counters kept for the next poll");
      await new Promise((r) => setTimeout(r, 1_100));
      const second = await collectProfile(c, { ...extended, diskLatency: first.diskLatency });
      for (const d of second.doc.physical_disks!) {
        // the simulator's disks answer in 2-8 ms outside a latency spike
        assert(
          d.sec_per_transfer > 0.0015 && d.sec_per_transfer < 0.0085,
          `${d.name}: ${d.sec_per_transfer} s per transfer`,
        );
      }
    });
  }));

Deno.test("full: the event log since a time, bounded per poll, the rest released not pulled", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-http"), async (c) => {
      // five Application Error entries a second since 10 s ago: 50 of them
      sim.eventFlood(ip, Date.now() - 10_000);
      const since = Date.now() - 2_000;
      const { doc } = await collectProfile(c, { ...full, eventsSince: since });
      assert(doc.events!.length <= 20);
      const flood = doc.events!.filter((e) => e.source === "Application Error");
      assert(flood.length >= 9, `flood entries read: ${flood.length}`);
      const floodTimes = flood.map((e) => Date.parse(e.ts));
      for (let i = 1; i < floodTimes.length; i++) {
        assertEquals(floodTimes[i - 1] - floodTimes[i], 200, "one every 200 ms");
      }
      assert(doc.events!.every((e) => Date.parse(e.ts) > since));
      assert(doc.events!.every((e) => e.level === "error" && e.log && e.record > 0));

      // A bigger backlog than max_events: 20 newest read, the context released
      const before = sim.stats(ip);
      const old = await collectProfile(c, { ...full, eventsSince: since - 20_000 });
      const after = sim.stats(ip);
      assertEquals(old.doc.events!.length, 20);
      assertEquals(old.doc.events_truncated, true);
      assertEquals(after.pulls - before.pulls, 0);
      assertEquals(c.counters.releases, 1, "the rest released");
      for (let i = 0; i < 100 && sim.stats(ip).openContexts > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assertEquals(sim.stats(ip).openContexts, 0, "the server freed the context");
      const times = old.doc.events!.map((e) => Date.parse(e.ts));
      assertEquals(times, [...times].sort((a, b) => b - a), "newest first");
    });
  }));

Deno.test("partial: a missing class or a refused one leaves its part out and names it", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-http"), async (c) => {
      sim.setFault(ip, {
        kind: "missing-class",
        classes: ["Win32_PerfFormattedData_PerfProc_Process", "Win32_PageFileUsage"],
      });
      const { doc } = await collectProfile(c, extended);
      assertEquals(doc.partial!.map((p) => p.part).sort(), ["page_file", "processes"]);
      assert(doc.partial!.every((p) => p.reason.includes("CannotProcessFilter")));
      assertEquals(doc.page_file_total, undefined);
      // Without process counters, Win32_Process names the processes, without CPU
      assert(doc.processes!.length >= 5);
      assert(doc.processes!.every((p) => p.cpu_percent === null && p.memory > 0));
      assert(doc.services!.length > 10 && doc.cpu_cores!.length > 0);

      sim.setFault(ip, { kind: "denied-class", classes: ["Win32_NTLogEvent"] });
      const denied = await collectProfile(c, full);
      assertEquals(denied.doc.partial!.map((p) => [p.part, p.class]), [[
        "events",
        "Win32_NTLogEvent",
      ]]);
      assert(denied.doc.partial![0].reason.includes("AccessDenied"));
      assertEquals(denied.doc.events, undefined);
      assert(denied.doc.services!.length > 10);

      // Every class refused is no partial result: the poll fails as before
      sim.setFault(ip, { kind: "unknown-class" });
      await assertRejects(() => collectProfile(c, extended), WsmanFaultError);
    });
  }));

Deno.test("a reboot moves LastBootUpTime and restarts the uptime", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-http"), async (c) => {
      const first = (await collectProfile(c, extended)).doc;
      sim.reboot(ip, Date.now() - 2_000);
      const second = (await collectProfile(c, extended)).doc;
      assert(Date.parse(second.boot_time!) > Date.parse(first.boot_time!));
      assert(second.uptime_s! < 10 && first.uptime_s! > second.uptime_s!);
    });
  }));

Deno.test("secondsPerTransfer: perfmon's average timer, wrapping uint32 counters, a reboot", () => {
  const f = 10_000_000;
  // 5 ms per transfer over 1,000 transfers
  assertEquals(
    secondsPerTransfer({ ticks: 0, transfers: 0, frequency: f }, {
      ticks: 50_000_000,
      transfers: 1_000,
      frequency: f,
    }),
    0.005,
  );
  // both counters wrapped past 2^32 between the polls
  const near = 2 ** 32 - 10_000_000;
  assertEquals(
    secondsPerTransfer({ ticks: near, transfers: 2 ** 32 - 500, frequency: f }, {
      ticks: 40_000_000,
      transfers: 500,
      frequency: f,
    }),
    0.005,
  );
  // no transfers: no latency
  const still = { ticks: 7, transfers: 9, frequency: f };
  assertEquals(secondsPerTransfer(still, still), 0);
  // counters back near zero after a reboot: no figure rather than a wrong one
  assertEquals(
    secondsPerTransfer({ ticks: 3e9, transfers: 3e6, frequency: f }, {
      ticks: 1_000,
      transfers: 10,
      frequency: f,
    }),
    null,
  );
});
