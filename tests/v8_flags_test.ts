/**
 * The V8 flags NMSlite's polling processes run with (scripts/v8_flags.ts) are the ones
 * deno.json's tasks start them with, so the tests and benches measure what a user runs.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { SERVER_V8_FLAGS, v8FlagsArg } from "../scripts/v8_flags.ts";

const config = JSON.parse(
  await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
) as { tasks: Record<string, string> };

/** The V8 flags of a task's `deno run` command line, in order. */
function taskV8Flags(task: string): string[] {
  const command = config.tasks[task];
  assert(command, `deno.json has no task ${task}`);
  const args = command.split(/\s+/);
  const runAt = args.indexOf("run");
  const script = args.findIndex((a, i) => i > runAt && !a.startsWith("-"));
  return args.slice(runAt + 1, script)
    .filter((a) => a.startsWith("--v8-flags="))
    .flatMap((a) => a.slice("--v8-flags=".length).split(","));
}

Deno.test("the start, dev and poller tasks pass the server's V8 flags", () => {
  assert(SERVER_V8_FLAGS.length > 0);
  for (const task of ["start", "dev", "poller"]) {
    assertEquals(taskV8Flags(task), [...SERVER_V8_FLAGS], `task ${task}`);
  }
});

Deno.test("v8FlagsArg puts the server's flags first, then the caller's", () => {
  assertEquals(v8FlagsArg(), `--v8-flags=${SERVER_V8_FLAGS.join(",")}`);
  assertEquals(v8FlagsArg(["--prof"]), `--v8-flags=${[...SERVER_V8_FLAGS, "--prof"].join(",")}`);
});
