/**
 * Paging and failure handling against winsim: Pull until EndOfSequence, Release of an
 * abandoned enumeration, WS-Man faults, reset, hang, malformed and slow responses.
 */
import { assert, assertEquals, assertRejects } from "../helpers/assert.ts";
import {
  AuthenticationError,
  CancelledError,
  ConnectionError,
  ProtocolError,
  TimeoutError,
  WsmanFaultError,
} from "../../lib/winrm/mod.ts";
import { clientFor, type Mode, using, withSim } from "./sim_helpers.ts";

const NICS = "SELECT Name, BytesReceivedPersec FROM Win32_PerfFormattedData_Tcpip_NetworkInterface";
const DISKS = "SELECT DeviceID, Size, FreeSpace FROM Win32_LogicalDisk";

for (const mode of ["basic-https", "ntlm-http"] as Mode[]) {
  Deno.test(`${mode}: MaxElements paging pulls until EndOfSequence`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      await using(clientFor(sim, mode), async (c) => {
        const all = await c.enumerate(DISKS);
        assert(all.length >= 2, "the simulated host has several disks");
        const paged = await c.enumerate(DISKS, { maxElements: 1 });
        assertEquals(paged.map((d) => d.DeviceID), all.map((d) => d.DeviceID));
        assertEquals(c.counters.pulls, all.length - 1);
        assertEquals(sim.stats(ip).pulls, all.length - 1);
        assertEquals(sim.stats(ip).openContexts, 0);
        assertEquals(c.counters.releases, 0, "no Release after EndOfSequence");
        assertEquals(c.stats().opened, 1);
      });
    }));
}

Deno.test("an answer in clear on an encrypted session is refused", () =>
  withSim(async (sim) => {
    // Someone on the path, without the session key, could otherwise hand the poller any figures
    // (pywinrm takes them). Before, the client took them as the host's.
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      assert((await c.enumerate(DISKS)).length >= 2, "sealed answers are taken");
      sim.setFault(ip, { kind: "unsealed" });
      const err = await assertRejects(() => c.enumerate(DISKS), ProtocolError);
      assert(/unencrypted answer \(HTTP 200/.test(err.message), err.message);
      sim.setFault(ip, null);
      assert((await c.enumerate(DISKS)).length >= 2);
    });
  }));

Deno.test("stopping early releases the enumeration context", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      for await (const batch of c.enumerateBatches(DISKS, { maxElements: 1 })) {
        assertEquals(batch.length, 1);
        break;
      }
      assertEquals(c.counters.releases, 1);
      assertEquals(sim.stats(ip).openContexts, 0, "server context freed");
    });
  }));

Deno.test("aborting mid-enumeration releases the context and is a CancelledError", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "basic-https"), async (c) => {
      const ctl = new AbortController();
      const err = await assertRejects(async () => {
        for await (const _ of c.enumerateBatches(DISKS, { maxElements: 1, signal: ctl.signal })) {
          ctl.abort();
        }
      }, CancelledError);
      assertEquals((err as CancelledError).kind, "cancelled");
      assertEquals(c.counters.releases, 1);
      assertEquals(sim.stats(ip).openContexts, 0);
    });
  }));

Deno.test("an error mid-enumeration still sends Release (best effort)", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(clientFor(sim, "ntlm-http"), async (c) => {
      await assertRejects(async () => {
        for await (const _ of c.enumerateBatches(DISKS, { maxElements: 1 })) {
          sim.setFault(ip, { kind: "fault", subcode: "TimedOut" });
        }
      }, WsmanFaultError);
      assertEquals(c.counters.releases, 1);
    });
  }));

for (const mode of ["basic-http", "ntlm-http", "ntlm-https"] as Mode[]) {
  Deno.test(`${mode}: WS-Man faults are WsmanFaultError with their codes`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      await using(clientFor(sim, mode), async (c) => {
        const unknown = await assertRejects(
          () => c.enumerate("SELECT * FROM Win32_NoSuchClass"),
          WsmanFaultError,
        ) as WsmanFaultError;
        assertEquals(unknown.subcode, "n:CannotProcessFilter");
        assertEquals(unknown.wsmanFaultCode, 2150858778);
        assertEquals(unknown.httpStatus, 500);
        assertEquals(unknown.kind, "wsman_fault");
        sim.setFault(ip, { kind: "unknown-class" });
        const injected = await assertRejects(() => c.enumerate(NICS), WsmanFaultError);
        assertEquals((injected as WsmanFaultError).subcode, "n:CannotProcessFilter");
        sim.setFault(ip, { kind: "fault", subcode: "TimedOut" });
        const timedOut = await assertRejects(() => c.enumerate(NICS), WsmanFaultError);
        assertEquals((timedOut as WsmanFaultError).subcode, "w:TimedOut");
        assertEquals((timedOut as WsmanFaultError).wsmanFaultCode, 2150858793);
        assertEquals((timedOut as WsmanFaultError).code, "s:Receiver");
        sim.setFault(ip, null);
        // a fault does not spoil the connection
        assertEquals((await c.enumerate(DISKS)).length > 0, true);
        assertEquals(c.stats().opened, 1);
      });
    }));
}

Deno.test("a Get with bad selectors is a WsmanFaultError", () =>
  withSim(async (sim) => {
    await using(clientFor(sim, "basic-https"), async (c) => {
      const err = await assertRejects(
        () => c.get("Win32_LogicalDisk", { DeviceID: "Q:" }),
        WsmanFaultError,
      ) as WsmanFaultError;
      assertEquals(err.subcode, "w:InvalidSelectors");
    });
  }));

for (const mode of ["basic-https", "ntlm-http"] as Mode[]) {
  Deno.test(`${mode}: reset, hang, malformed, slow, unauthorized`, () =>
    withSim(async (sim) => {
      const ip = sim.hosts[0].ip;
      const short = { connectMs: 2_000, readMs: 300, operationMs: 10_000 };
      await using(clientFor(sim, mode, { timeouts: short }), async (c) => {
        sim.setFault(ip, { kind: "reset" });
        const reset = await assertRejects(() => c.enumerate(DISKS), ConnectionError);
        assert(["closed", "reset"].includes((reset as ConnectionError).problem));

        sim.setFault(ip, { kind: "hang" });
        const hang = await assertRejects(() => c.enumerate(DISKS), TimeoutError);
        assertEquals((hang as TimeoutError).phase, "read");

        sim.setFault(ip, { kind: "malformed" });
        await assertRejects(() => c.enumerate(DISKS), ProtocolError);

        sim.setFault(ip, { kind: "unauthorized" });
        await assertRejects(() => c.enumerate(DISKS), AuthenticationError);

        sim.setFault(ip, { kind: "slow", ms: 100 });
        assert((await c.enumerate(DISKS, { maxElements: 1 })).length >= 2);
        sim.setFault(ip, null);
      });
      const whole = { connectMs: 2_000, readMs: 10_000, operationMs: 300 };
      await using(clientFor(sim, mode, { timeouts: whole }), async (c) => {
        sim.setFault(ip, { kind: "hang" });
        const err = await assertRejects(() => c.enumerate(DISKS), TimeoutError);
        assertEquals((err as TimeoutError).phase, "operation");
        const ctl = new AbortController();
        const p = c.enumerate(DISKS, { signal: AbortSignal.any([ctl.signal]) });
        setTimeout(() => ctl.abort(), 50);
        await assertRejects(() => p, CancelledError);
        const timed = c.enumerate(DISKS, { signal: AbortSignal.timeout(50) });
        assertEquals(
          (await assertRejects(() => timed, TimeoutError) as TimeoutError).phase,
          "operation",
        );
        sim.setFault(ip, null);
      });
    }));
}
