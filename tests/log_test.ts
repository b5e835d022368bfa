/**
 * The log sink: lines are batched, none is dropped however fast they come, warnings and up go
 * to stderr, and an idle process holds no timer (it exits by itself once its work is done).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import type { LogRecord } from "@logtape/logtape";
import { bufferedConsoleSink } from "../lib/log.ts";

const ROOT = new URL("../", import.meta.url);

class Collect {
  text = "";
  writes = 0;
  writeSync(p: Uint8Array): number {
    this.writes++;
    // a pipe may take less than it was given: the sink must write the rest
    const n = Math.min(p.length, 4096);
    this.text += new TextDecoder().decode(p.subarray(0, n));
    return n;
  }
}

function record(level: LogRecord["level"], message: string): LogRecord {
  return {
    category: ["nmslite", "test"],
    level,
    message: [message],
    rawMessage: message,
    timestamp: Date.now(),
    properties: {},
  } as LogRecord;
}

Deno.test("a burst of lines is written whole, in order, in few writes; warnings to stderr", async () => {
  const out = new Collect();
  const err = new Collect();
  const sink = bufferedConsoleSink((r) => `${r.message[0]}`, { out, err });
  for (let i = 0; i < 1000; i++) sink(record("info", `line ${i}`));
  sink(record("warning", "careful"));
  sink(record("error", "broken"));
  // 256 lines are written together at once, the rest after the flush delay
  assert(out.text.length > 0, "a full batch is written without waiting");
  await new Promise((r) => setTimeout(r, 250));
  const lines = out.text.trimEnd().split("\n");
  assertEquals(lines.length, 1000);
  assertEquals(lines[0], "line 0");
  assertEquals(lines[999], "line 999");
  assertEquals(err.text, "careful\nbroken\n");
  assert(out.writes < 100, `batched: ${out.writes} writes for 1000 lines`);
  // one more line waits for its timer; dispose writes it at once, and the test's sanitizer
  // would report a timer left behind
  sink(record("info", "last"));
  sink[Symbol.dispose]();
  assert(out.text.endsWith("last\n"));
});

Deno.test("a process that logged exits by itself, with every line written", async () => {
  const script = `
    import { getLogger } from "@logtape/logtape";
    import { setupLogging } from "./lib/log.ts";
    await setupLogging("info");
    const log = getLogger(["nmslite", "burst"]);
    for (let i = 0; i < 1000; i++) log.info("line {i}", { i });
    for (let i = 0; i < 3; i++) log.warn("warn {i}", { i });
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--ext=ts", script],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // a timer left running would keep the process alive: give it 30 s, then fail the test
  const kill = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const { code, signal, stdout, stderr } = await child.output();
  clearTimeout(kill);
  assertEquals(signal, null, "the process exited by itself");
  assertEquals(code, 0);
  const lines = new TextDecoder().decode(stdout).trimEnd().split("\n");
  assertEquals(lines.length, 1000);
  assertEquals(JSON.parse(lines[999]).properties.i, 999);
  const warnings = new TextDecoder().decode(stderr).trimEnd().split("\n");
  assertEquals(warnings.map((l) => JSON.parse(l).level), ["WARN", "WARN", "WARN"]);
});
