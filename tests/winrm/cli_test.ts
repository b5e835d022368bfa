/** `deno task winrm` (scripts/winrm.ts) against winsim: JSON out, typed errors, no secret. */
import { assert, assertEquals } from "../helpers/assert.ts";
import { PASSWORD, withSim } from "./sim_helpers.ts";

async function cli(args: string[], password = PASSWORD) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../scripts/winrm.ts", import.meta.url).pathname, "--", ...args],
    env: { CLI_TEST_PW: password },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("CLI: --identify, --wql and --collect print JSON; errors are kind + message", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const base = ["--host", h.ip, "--user", sim.username, "--password-env", "CLI_TEST_PW"];
    const http = [...base, "--port", String(h.httpPort), "--auth", "ntlm"];
    const id = await cli([...http, "--identify"]);
    assertEquals(id.code, 0, id.stderr);
    assertEquals(JSON.parse(id.stdout).hostname, h.name);
    const wql = await cli([
      ...http,
      "--wql",
      "SELECT DeviceID FROM Win32_LogicalDisk",
      "--max-elements",
      "1",
    ]);
    assertEquals(wql.code, 0, wql.stderr);
    assert(JSON.parse(wql.stdout).length >= 2);
    const https = [...base, "--port", String(h.httpsPort), "--https", "--auth", "basic"];
    const col = await cli([...https, "--tls-insecure", "--collect"]);
    assertEquals(col.code, 0, col.stderr);
    assert(JSON.parse(col.stdout).process_count > 0);
    const tls = await cli([...https, "--collect"]);
    assertEquals(tls.code, 1);
    assertEquals(JSON.parse(tls.stderr).error.kind, "tls");
    const wrong = "Wrong-Cli-Pass-1";
    const bad = await cli([...http, "--collect"], wrong);
    assertEquals(bad.code, 1);
    assertEquals(JSON.parse(bad.stderr).error.kind, "auth");
    assert(!bad.stderr.includes(wrong) && !bad.stdout.includes(wrong));
    const usage = await cli(["--host", h.ip]);
    assertEquals(usage.code, 2);
  }));
