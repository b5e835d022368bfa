/**
 * `deno task test`: every *_test.ts (on the embedded database, and on PostgreSQL too when
 * TEST_DATABASE_URL is set), then the Postman collection through newman against a freshly
 * started server. Ends with the names of the tests that failed, if any (deno's FAILURES list,
 * repeated so that it sits next to the verdict when only the tail of a long log is kept), and
 * one line "tests: N passed, N failed".
 */
const extra = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;

async function run(args: string[]): Promise<{ code: number; output: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    output += decoder.decode(chunk, { stream: true });
  }
  return { code: (await child.status).code, output };
}

// deno's summary: "ok | 12 passed (40 steps) | 0 failed" or "FAILED | 11 passed | 1 failed"
function counts(output: string): { passed: number; failed: number } {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const m = [...plain.matchAll(/(\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/g)].pop();
  return m ? { passed: Number(m[1]), failed: Number(m[2]) } : { passed: 0, failed: 0 };
}

// deno's closing lists: " ERRORS " (each failure's "name => ./file.ts:12:6" line, then its
// "error: ..." line and stack) and " FAILURES " (the same "name => place" lines again)
function failures(output: string): string[] {
  // deno-lint-ignore no-control-regex
  const lines = output.replace(/\x1b\[[0-9;]*m/g, "").split("\n");
  const start = lines.findLastIndex((line) => line.trim() === "FAILURES");
  if (start < 0) return [];
  const why = new Map<string, string>();
  for (let i = 0; i < start; i++) {
    if (lines[i].includes(" => ") && lines[i + 1]?.startsWith("error: ")) {
      why.set(lines[i], lines[i + 1].slice(0, 240));
    }
  }
  return lines.slice(start).filter((line) => line.includes(" => "))
    .map((line) => why.has(line) ? `${line}\n    ${why.get(line)}` : line);
}

const unit = await run(["test", "--allow-all", "--no-check=remote", ...extra]);
const summary = counts(unit.output);
if (unit.code !== 0 && summary.failed === 0) summary.failed = 1;

let newmanFailed = 0;
if (extra.length === 0) {
  const newman = await run(["run", "--allow-all", "scripts/newman.ts"]);
  if (newman.code === 0) summary.passed++;
  else newmanFailed = 1;
}

const failed = failures(unit.output);
if (newmanFailed) failed.push("newman: the Postman collection (scripts/newman.ts)");
if (failed.length) console.log(`\nfailed:\n${failed.map((f) => `  ${f}`).join("\n")}`);
console.log(`\ntests: ${summary.passed} passed, ${summary.failed + newmanFailed} failed`);
Deno.exit(unit.code !== 0 || newmanFailed ? 1 : 0);
