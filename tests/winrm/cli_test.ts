/** `deno task winrm` (scripts/winrm.ts) against winsim: JSON out, typed errors, no secret. */
import { X509Certificate } from "node:crypto";
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
    const ext = await cli([...https, "--tls-insecure", "--collect", "--profile", "full"]);
    assertEquals(ext.code, 0, ext.stderr);
    const doc = JSON.parse(ext.stdout);
    assert(doc.services.length > 10 && doc.processes.length > 0 && doc.cpu_cores.length > 0);
    assert(doc.uptime_s > 0 && Array.isArray(doc.events) && doc.physical_disks.length === 2);
    const badProfile = await cli([...https, "--tls-insecure", "--collect", "--profile", "max"]);
    assertEquals(badProfile.code, 2);
    assert(badProfile.stderr.includes("--profile"), badProfile.stderr);
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

Deno.test("CLI: --tls-ca and --tls-fingerprint pin; a missing or non-PEM file says so; a wrong password costs one logon", () =>
  withSim(async (sim) => {
    const h = sim.hosts[0];
    const https = [
      "--host",
      h.ip,
      "--user",
      sim.username,
      "--password-env",
      "CLI_TEST_PW",
      "--port",
      String(h.httpsPort),
      "--https",
      "--auth",
      "basic",
    ];
    const dir = await Deno.makeTempDir({ prefix: "nmslite-cli-" });
    try {
      const pem = `${dir}/sim.pem`;
      await Deno.writeTextFile(pem, sim.certificatePem);
      const ok = await cli([...https, "--tls-ca", pem, "--identify"]);
      assertEquals(ok.code, 0, ok.stderr);
      const fp = new X509Certificate(sim.certificatePem).fingerprint256;
      const byFp = await cli([...https, "--tls-fingerprint", fp, "--identify"]);
      assertEquals(byFp.code, 0, byFp.stderr);

      const missing = await cli([...https, "--tls-ca", `${dir}/nope.pem`, "--identify"]);
      assertEquals(missing.code, 2);
      assert(missing.stderr.includes("cannot read the --tls-ca file"), missing.stderr);
      assert(missing.stderr.includes("no such file"), missing.stderr);
      const der = `${dir}/sim.der`;
      await Deno.writeFile(der, sim.certificateDer);
      const notPem = await cli([...https, "--tls-ca", der, "--identify"]);
      assertEquals(notPem.code, 1);
      const e = JSON.parse(notPem.stderr).error;
      assertEquals(e.kind, "config");
      assert(e.message.includes("not PEM"), e.message);
      assertEquals(sim.stats(h.ip).authFailures, 0);

      const wrong = await cli([...https, "--tls-ca", pem, "--collect"], "Wrong-Cli-Pass-2");
      assertEquals(wrong.code, 1);
      assertEquals(JSON.parse(wrong.stderr).error.kind, "auth");
      assertEquals(sim.stats(h.ip).authFailures, 1, "one failed logon for --collect");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }));
