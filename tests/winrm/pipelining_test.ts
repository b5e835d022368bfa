/**
 * enumerateAll() pipelines a poll's queries on one connection (lib/winrm/transport.ts), in
 * every auth mode, against winsim over real sockets; a server without pipelining
 * support is detected on the first batch and then served one request at a time.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import { TimeoutError, type WinrmClient, WsmanFaultError } from "../../lib/winrm/mod.ts";
import type { Winsim } from "../../winsim/mod.ts";
import { collect, WQL } from "../../lib/collectors/windows_winrm.ts";
import { clientFor, MODES, using, withSim } from "./sim_helpers.ts";

const POLL = [WQL.cpu, WQL.memory, WQL.disks, WQL.network];

/** What does not move between two reads of a simulated host. */
function shape(results: Record<string, unknown>[][]) {
  const [cpu, os, disks, nics] = results;
  return {
    cpu: cpu.length,
    memory: os.map((o) => o.TotalVisibleMemorySize),
    disks: disks.map((d) => [d.DeviceID, d.Size]),
    nics: nics.map((n) => n.Name),
  };
}

/** The same queries one at a time, on a client that never pipelines. */
async function oneByOne(sim: Winsim, mode: (typeof MODES)[number]) {
  return await using(clientFor(sim, mode, { pipelining: false }), async (c) => {
    const out = [];
    for (const q of POLL) out.push(await c.enumerate(q));
    assertEquals(c.stats().pipelined, 0, "pipelining: false sends one request at a time");
    return out;
  });
}

for (const mode of MODES) {
  Deno.test(`${mode}: a poll's four queries go out pipelined on one connection`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      const expected = shape(await oneByOne(sim, mode));
      assertEquals(sim.stats(ip).pipelinedRequests, 0);
      await using(clientFor(sim, mode), async (c) => {
        await c.enumerate(WQL.bios); // opens (and for NTLM authenticates) the connection
        assertEquals(c.stats().pipelining, "unknown");
        const before = c.stats().pipelined;
        const got = await c.enumerateAll(POLL);
        assertEquals(shape(got), expected);
        const s = c.stats();
        assertEquals(s.pipelining, "on");
        assertEquals(s.pipelined - before, POLL.length - 1, "three requests behind the first");
        assertEquals(s.opened, 1, "all on the one warm connection");
        assert(sim.stats(ip).pipelinedRequests >= 1, "the server saw requests arrive early");
        // and again on the same connection: sequence numbers and keep-alive stay in step
        assertEquals(shape(await c.enumerateAll(POLL)), expected);
        assertEquals(c.stats().opened, 1);
      });
    }));
}

for (const mode of ["basic-https", "ntlm-http"] as const) {
  Deno.test(`${mode}: a fresh connection authenticates, then pipelines`, () =>
    withSim(async (sim) => {
      await using(clientFor(sim, mode), async (c) => {
        const doc = await collect(c);
        assert(typeof doc.cpu_percent === "number");
        assert((doc.volumes ?? []).length >= 1);
        assertEquals(c.stats().pipelining, "on");
        assertEquals(c.stats().opened, 1);
        assertEquals(c.stats().handshakes, mode === "ntlm-http" ? 1 : 0);
      });
    }));

  Deno.test(`${mode}: a server that closes after the first pipelined request is served one by one`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      const expected = shape(await oneByOne(sim, mode));
      sim.setFault(ip, { kind: "no-pipelining" });
      await using(clientFor(sim, mode), async (c) => {
        await c.enumerate(WQL.bios);
        assertEquals(shape(await c.enumerateAll(POLL)), expected);
        assertEquals(c.stats().pipelining, "off");
        const pipelined = c.stats().pipelined;
        const early = sim.stats(ip).pipelinedRequests;
        assertEquals(shape(await c.enumerateAll(POLL)), expected);
        assertEquals(c.stats().pipelined, pipelined, "no pipelined request once it is off");
        assertEquals(sim.stats(ip).pipelinedRequests, early);
      });
    }));
}

Deno.test("a server that silently drops pipelined requests is detected by the read timeout", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const expected = shape(await oneByOne(sim, "ntlm-http"));
    sim.setFault(ip, { kind: "no-pipelining", ignore: true });
    const client = clientFor(sim, "ntlm-http", {
      timeouts: { connectMs: 5_000, readMs: 300, operationMs: 20_000 },
    });
    await using(client, async (c) => {
      await c.enumerate(WQL.bios);
      assertEquals(shape(await c.enumerateAll(POLL)), expected);
      assertEquals(c.stats().pipelining, "off");
    });
  }));

Deno.test("a host that answers nothing fails the poll without turning pipelining off", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    const client = clientFor(sim, "basic-https", {
      timeouts: { connectMs: 5_000, readMs: 300, operationMs: 20_000 },
    });
    await using(client, async (c: WinrmClient) => {
      await c.enumerate(WQL.bios);
      sim.setFault(ip, { kind: "hang" });
      const err = await assertRejects(() => c.enumerateAll(POLL), TimeoutError);
      assertEquals((err as TimeoutError).phase, "read");
      assertEquals(c.stats().pipelining, "unknown", "no answer says nothing about pipelining");
      sim.setFault(ip, null);
      await c.enumerateAll(POLL);
      assertEquals(c.stats().pipelining, "on");
    });
  }));

Deno.test("a WS-Man fault in one pipelined query is that query's error; the connection stays", () =>
  withSim(async (sim) => {
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      const err = await assertRejects(
        () => c.enumerateAll([WQL.cpu, "SELECT * FROM Win32_NoSuchClass", WQL.disks]),
        WsmanFaultError,
      );
      assertEquals((err as WsmanFaultError).subcode, "n:CannotProcessFilter");
      assertEquals(c.stats().pipelining, "on", "a fault is an answer: pipelining works");
      const [cpu, disks] = await c.enumerateAll([WQL.cpu, WQL.disks]);
      assertEquals(cpu.length, 1);
      assert(disks.length >= 1);
      assertEquals(c.stats().opened, 1, "the sealed stream stayed in step");
    });
  }));

Deno.test("a result too large for its EnumerateResponse is pulled after the pipelined batch", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-https"), async (c) => {
      const whole = await c.enumerateAll([WQL.disks, WQL.network]);
      const paged = await c.enumerateAll([WQL.disks, WQL.network], { maxElements: 1 });
      assertEquals(paged.map((r) => r.length), whole.map((r) => r.length));
      assertEquals(paged[0].map((d) => d.DeviceID), whole[0].map((d) => d.DeviceID));
      assertEquals(c.counters.pulls, whole[0].length - 1 + whole[1].length - 1);
      assertEquals(sim.stats(ip).openContexts, 0);
    });
  }));
