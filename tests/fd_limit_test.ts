/**
 * The open-files limit (lib/os/fd_limit.ts): read and raised through FFI in a child process
 * started under given limits, and shared out into reserves and WinRM budgets.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { planFdBudget } from "../lib/os/fd_limit.ts";

const MODULE = new URL("../lib/os/fd_limit.ts", import.meta.url).href;

async function limitsUnder(soft: number, hard: number) {
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `ulimit -Sn ${soft} && ulimit -Hn ${hard} && exec "$@"`,
      "bash",
      Deno.execPath(),
      "eval",
      `import { raiseOpenFilesLimit, openDescriptors } from "${MODULE}";
       const l = raiseOpenFilesLimit();
       const proc = Deno.readTextFileSync("/proc/self/limits").match(/Max open files\\s+(\\d+)/)[1];
       console.log(JSON.stringify({ ...l, proc: Number(proc), open: openDescriptors() }));`,
    ],
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

Deno.test("the soft limit ends at the hard limit, and both are reported", async () => {
  const raised = await limitsUnder(200, 300);
  assertEquals([raised.soft, raised.hard, raised.proc], [300, 300, 300]);
  assertEquals(raised.problem, undefined);
  assert(raised.open > 0 && raised.open < 300, `descriptors open: ${raised.open}`);
  // a hard limit cannot be passed: soft stays equal to it
  const capped = await limitsUnder(256, 256);
  assertEquals([capped.soft, capped.hard, capped.proc], [256, 256, 256]);
});

Deno.test("the budget: reserves first, the rest for WinRM split among the Workers", () => {
  const b = planFdBudget({ limit: 1024, inUse: 40, databaseConnections: 10, pollers: 2 });
  // API 1024/16 = 64, queue and Workers 8 * 4 = 32, slack 5 % = 51
  assertEquals([b.api, b.database, b.queueAndWorkers, b.slack], [64, 10, 32, 51]);
  assertEquals(b.winrm, 1024 - 40 - 64 - 10 - 32 - 51);
  assertEquals(b.main, Math.floor(b.winrm / 8));
  assertEquals(b.perPoller, Math.floor((b.winrm - b.main) / 2));
  assert(b.inUse + b.api + b.database + b.queueAndWorkers + b.slack + b.winrm <= 1024);

  // the listener's cap is the API's reserve, up to a quarter of the limit
  assertEquals(
    planFdBudget({
      limit: 1024,
      inUse: 40,
      apiConnections: 512,
      databaseConnections: 0,
      pollers: 2,
    })
      .api,
    256,
  );
  assertEquals(
    planFdBudget({
      limit: 1024,
      inUse: 40,
      apiConnections: 200,
      databaseConnections: 0,
      pollers: 2,
    })
      .api,
    200,
  );
  // a limit too low for the reserves still leaves each Worker a few connections
  const tiny = planFdBudget({ limit: 64, inUse: 40, databaseConnections: 10, pollers: 4 });
  assertEquals([tiny.winrm, tiny.main, tiny.perPoller], [0, 4, 4]);
});
