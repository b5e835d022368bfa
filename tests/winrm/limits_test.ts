/**
 * Caps per enumeration: a simulated host whose enumerations never reach EndOfSequence (the
 * `endless` fault) ends in an EnumerationLimitError naming the endpoint, the query and the
 * cap, well before the operation deadline, and the server-side context is released.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../helpers/assert.ts";
import { ConfigError, EnumerationLimitError } from "../../lib/winrm/mod.ts";
import { collect } from "../../lib/collectors/windows_winrm.ts";
import { clientFor, using, withSim } from "./sim_helpers.ts";

// a deadline the caps must beat by far; were they missing, the tests would fail on it instead
const timeouts = { connectMs: 5_000, readMs: 10_000, operationMs: 15_000 };

Deno.test("an endless enumeration stops at the Pull cap with a clear error", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    sim.setFault(ip, { kind: "endless" });
    await using(
      clientFor(sim, "ntlm-http", { timeouts, limits: { maxPulls: 25 } }),
      async (c) => {
        const err = await assertRejects(
          () => c.enumerate("SELECT DeviceID FROM Win32_LogicalDisk", { maxElements: 1 }),
          EnumerationLimitError,
        );
        const e = err as EnumerationLimitError;
        assertEquals(e.limit, "maxPulls");
        assertEquals(e.kind, "protocol");
        assert(e.message.includes(c.endpoint), e.message);
        assert(e.message.includes("Win32_LogicalDisk"), e.message);
        assert(e.message.includes("25 Pulls"), e.message);
        assertEquals(c.counters.pulls, 25);
        assertEquals(sim.stats(ip).pulls, 25);
        assertEquals(c.counters.releases, 1);
        assertEquals(sim.stats(ip).openContexts, 0, "the context was released");

        // a poll's queries (pipelined, then Pulls) stop the same way
        await assertRejects(() => collect(c), EnumerationLimitError, "maxPulls");
      },
    );
  }));

Deno.test("the item cap holds over the Enumerate and its Pulls; a call may lower it", () =>
  withSim(async (sim) => {
    const ip = sim.hosts[0].ip;
    await using(
      clientFor(sim, "basic-https", { timeouts, limits: { maxItems: 40 } }),
      async (c) => {
        // within the cap, a normal paged result is whole
        const disks = await c.enumerate("SELECT DeviceID FROM Win32_LogicalDisk", {
          maxElements: 1,
        });
        assert(disks.length >= 2);
        sim.setFault(ip, { kind: "endless" });
        const err = await assertRejects(
          () => c.enumerate("SELECT DeviceID FROM Win32_LogicalDisk", { maxElements: 3 }),
          EnumerationLimitError,
          "more than 40 items",
        );
        assertEquals((err as EnumerationLimitError).limit, "maxItems");
        await assertRejects(
          () =>
            c.enumerate("SELECT DeviceID FROM Win32_LogicalDisk", {
              maxElements: 1,
              limits: { maxItems: 3 },
            }),
          EnumerationLimitError,
          "more than 3 items",
        );
        assertEquals(sim.stats(ip).openContexts, 0);
        // streaming honours the caps too
        const stream = async () => {
          for await (
            const _ of c.enumerateBatches(
              "SELECT Name FROM Win32_PerfFormattedData_Tcpip_NetworkInterface",
              {
                maxElements: 1,
                limits: { maxPulls: 4 },
              },
            )
          ) { /* consume */ }
        };
        await assertRejects(stream, EnumerationLimitError, "4 Pulls");
      },
    );
  }));

Deno.test("caps must be non-negative integers", () =>
  withSim((sim) => {
    assertThrows(
      () => clientFor(sim, "ntlm-http", { limits: { maxPulls: -1 } }),
      ConfigError,
      "maxPulls",
    );
    assertThrows(
      () => clientFor(sim, "ntlm-http", { limits: { maxItems: 1.5 } }),
      ConfigError,
      "maxItems",
    );
    return Promise.resolve();
  }));
