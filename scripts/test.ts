/**
 * `deno task test`: every *_test.ts (on the embedded database, and on PostgreSQL too when
 * TEST_DATABASE_URL is set), then the Postman collection through newman against a freshly
 * started server. Ends with one line "tests: N passed, N failed".
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

const unit = await run(["test", "--allow-all", "--no-check=remote", ...extra]);
const summary = counts(unit.output);
if (unit.code !== 0 && summary.failed === 0) summary.failed = 1;

let newmanFailed = 0;
if (extra.length === 0) {
  const newman = await run(["run", "--allow-all", "scripts/newman.ts"]);
  if (newman.code === 0) summary.passed++;
  else newmanFailed = 1;
}

console.log(`\ntests: ${summary.passed} passed, ${summary.failed + newmanFailed} failed`);
Deno.exit(unit.code !== 0 || newmanFailed ? 1 : 0);
