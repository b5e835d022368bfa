/**
 * The descriptor budget of the WinRM client (lib/winrm/budget.ts) against the simulator over
 * real sockets: past the budget a poll opens and closes its own connection instead of
 * failing, the least recently used idle connection is closed first, polls beyond the budget
 * wait for a slot, and running out of descriptors for real (EMFILE, in a child process under
 * a low limit) is retried after closing idle connections.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { fixtureResult } from "../helpers/subprocess.ts";
import { clientFor, PASSWORD, using, withSim } from "./sim_helpers.ts";
import { closeSharedPools } from "../../lib/winrm/pool.ts";
import { ConnectionBudget, connectionBudget } from "../../lib/winrm/budget.ts";
import { startWinsim } from "../../winsim/mod.ts";

const WQL = "SELECT Name FROM Win32_OperatingSystem";

/** Runs fn with this isolate's budget set to `max`, then unbounded again. */
async function withBudget(max: number, fn: (b: ConnectionBudget) => Promise<void>) {
  const budget = connectionBudget();
  budget.configure(max);
  try {
    await fn(budget);
  } finally {
    closeSharedPools();
    budget.configure(Infinity);
  }
}

async function withBudgetOf(budget: ConnectionBudget, max: number, fn: () => Promise<void>) {
  const was = budget.stats().configured;
  budget.configure(max);
  try {
    await fn();
  } finally {
    budget.configure(was);
  }
}

Deno.test("past the budget, polls open and close their own connections and all succeed", () =>
  withSim(async (sim) => {
    await withBudget(2, async (budget) => {
      const clients = sim.hosts.map((_, i) => clientFor(sim, "ntlm-http", { shared: true }, i));
      let maxOpen = 0;
      // three rounds over six hosts with room for two connections
      for (let round = 0; round < 3; round++) {
        for (const c of clients) {
          assertEquals((await c.enumerate(WQL)).length, 1);
          maxOpen = Math.max(maxOpen, budget.stats().open);
        }
      }
      assert(maxOpen <= 2, `at most 2 connections open, saw ${maxOpen}`);
      // Idle connections may fill 3/4 of the budget (here 1 of 2): the first host's stays
      // warm, every other poll opens and closes its own (one TCP connection and one NTLM
      // handshake each), none refused. LRU replacement would have kept none warm in a cycle.
      assertEquals(sim.totals().connections, 6 + 5 + 5);
      assertEquals(sim.totals().authHandshakes, 16);
      assertEquals(sim.totals().authFailures, 0);
      assertEquals(sim.stats(sim.hosts[0].ip).connections, 1);
      assert(budget.stats().notKept >= 15, `closed at release: ${budget.stats().notKept}`);

      // a poll that needs a slot while idle connections hold them all closes the least
      // recently used first
      await withBudgetOf(budget, 1, async () => {
        const before = sim.stats(sim.hosts[0].ip).connections;
        await clients[1].enumerate(WQL); // evicts host 0's idle connection to get the slot
        await clients[0].enumerate(WQL);
        assertEquals(sim.stats(sim.hosts[0].ip).connections, before + 1);
        assert(budget.stats().evicted >= 1);
      });
      for (const c of clients) c.close();
    });
  }, { hosts: 6, base: "127.0.41.1" }));

Deno.test("polls beyond the budget wait for a slot instead of failing", () =>
  withSim(async (sim) => {
    await withBudget(2, async (budget) => {
      const clients = sim.hosts.map((_, i) => clientFor(sim, "ntlm-http", { shared: true }, i));
      let maxOpen = 0;
      const timer = setInterval(() => maxOpen = Math.max(maxOpen, budget.stats().open), 1);
      try {
        const results = await Promise.all(
          [...clients, ...clients].map((c) => c.enumerateAll([WQL, WQL])),
        );
        assertEquals(results.length, 12);
        for (const r of results) assertEquals(r.map((items) => items.length), [1, 1]);
      } finally {
        clearInterval(timer);
      }
      assert(maxOpen <= 2, `at most 2 connections open, saw ${maxOpen}`);
      assert(budget.stats().waited > 0, "some polls waited for a slot");
      assertEquals(budget.stats().waiting, 0);
      for (const c of clients) c.close();
    });
  }, { hosts: 6, base: "127.0.42.1" }));

Deno.test("a poll waiting for a slot gives up at its deadline, as a timeout", () =>
  withSim(async (sim) => {
    await withBudget(1, async (budget) => {
      const a = clientFor(sim, "ntlm-http", { shared: true }, 0);
      const b = clientFor(sim, "ntlm-http", { timeouts: { operationMs: 300 } }, 1);
      // hold the only slot with a slow request: reserve it by hand
      await budget.reserve();
      try {
        const err = await b.enumerate(WQL).then(() => null, (e) => e);
        assert(err, "the poll failed");
        assertEquals(err.kind, "timeout");
        assertEquals(budget.stats().waiting, 0);
      } finally {
        budget.release();
      }
      // the slot is free again: polls go on
      await using(b, async (c) => assertEquals((await c.enumerate(WQL)).length, 1));
      await using(a, async (c) => assertEquals((await c.enumerate(WQL)).length, 1));
    });
  }, { hosts: 2, base: "127.0.43.1" }));

// The child fills its descriptor table up to a few free ones, then polls more hosts than
// those few allow: connect fails with EMFILE, the pool closes idle connections and retries.
const CHILD = `
import { WinrmClient } from "${new URL("../../lib/winrm/mod.ts", import.meta.url).href}";
import { connectionBudget } from "${new URL("../../lib/winrm/budget.ts", import.meta.url).href}";
const [hostsJson, password] = Deno.args;
const hosts = JSON.parse(hostsJson);
const clients = hosts.map(({ ip, port }) => new WinrmClient({
  host: ip, port, auth: "ntlm", username: "Administrator", password, shared: true,
  timeouts: { connectMs: 5000, readMs: 10000, operationMs: 20000 },
}));
// warm up everything that opens files lazily, then fill the table but for 4 descriptors
await clients[0].enumerate("SELECT Name FROM Win32_OperatingSystem");
await new Promise((r) => setTimeout(r, 2500));
const held = [];
try { for (;;) held.push(Deno.openSync("/dev/null")); } catch { /* full */ }
for (const f of held.splice(0, 4)) f.close();
let ok = 0;
const errors = [];
for (let round = 0; round < 2; round++) {
  for (const c of clients) {
    try { await c.enumerate("SELECT Name FROM Win32_OperatingSystem"); ok++; }
    catch (e) { errors.push(e.message); }
  }
}
for (const f of held) f.close();
console.log(JSON.stringify({ ok, errors, budget: connectionBudget().stats() }));
Deno.exit(0);
`;

Deno.test("out of descriptors (EMFILE): idle connections are closed and the connect retried", async () => {
  const sim = await startWinsim({
    hosts: 8,
    base: "127.0.44.1",
    httpPort: 0,
    httpsPort: null,
    password: PASSWORD,
  });
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/child.ts`;
    await Deno.writeTextFile(script, CHILD);
    const out = await new Deno.Command("bash", {
      args: [
        "-c",
        'ulimit -n 128 && exec "$@"',
        "bash",
        Deno.execPath(),
        "run",
        "-A",
        "--no-check",
        "--config",
        new URL("../../deno.json", import.meta.url).pathname,
        script,
        JSON.stringify(sim.hosts.map((h) => ({ ip: h.ip, port: h.httpPort }))),
        PASSWORD,
      ],
      env: { DENO_NO_UPDATE_CHECK: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const result = fixtureResult<{ errors: string[]; ok: number; budget: { exhausted: number } }>(
      out,
    );
    assertEquals(result.errors, []);
    assertEquals(result.ok, 16);
    assert(result.budget.exhausted > 0, "EMFILE was met (and answered)");
  } finally {
    await sim.close();
    await Deno.remove(dir, { recursive: true });
  }
});
