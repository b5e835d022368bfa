import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { ExecPluginError, runExecPlugin } from "../lib/collectors/exec_plugin.ts";
import { toMetricSample } from "../lib/collectors/metrics_document.ts";
import type { Credential } from "../lib/messages.ts";

const PLUGIN = new URL("./fixtures/plugins/example_plugin.ts", import.meta.url).pathname;
// The plugin directory an administrator prepared: one wrapper that runs the example plugin.
const pluginDir = await Deno.makeTempDir({ prefix: "nmslite_plugins_" });
await Deno.writeTextFile(
  `${pluginDir}/example-plugin`,
  `#!/bin/sh\nexec "${Deno.execPath()}" run --quiet --allow-read --allow-env "${PLUGIN}" "$@"\n`,
  { mode: 0o755 },
);
await Deno.chmod(`${pluginDir}/example-plugin`, 0o755);
const credential: Credential = {
  id: 1,
  type: "winrm_ntlm",
  username: "svc-monitor",
  password: "Plugin-S3cret",
  domain: null,
  port: 5985,
  useSsl: false,
  tlsVerify: "system",
  tlsCaPem: null,
  allowUnencrypted: false,
  version: "1",
};
const input = (mode: string, timeout_ms = 20_000) => ({
  monitorId: 7,
  target: { ip: "127.0.0.9", deviceId: 3 },
  credential,
  config: { command: "example-plugin", timeout_ms, mode },
  pluginDir,
});

Deno.test("exec plugin: JSON in on stdin, metrics document out on stdout", async () => {
  const doc = await runExecPlugin(input("ok"));
  assertEquals(doc.cpu_percent, 12.5);
  const sample = toMetricSample(7, 1_000, doc, 42);
  assertEquals(sample.diskTotal, 150e9, "disk totals summed from volumes");
  assertEquals(sample.diskUsed, 45e9);
  assertEquals(sample.netRecvBps, 2000);
  assertEquals(sample.volumes?.length, 2);
  assertEquals(sample.processCount, 87);
  assertEquals(sample.collectionMs, 42);
});

Deno.test("exec plugin: non-zero exit reports the stderr tail, password redacted", async () => {
  const err = await assertRejects(() => runExecPlugin(input("fail")), ExecPluginError);
  assert(err.message.includes("exited with code 3"), err.message);
  assert(err.message.includes("cannot reach 127.0.0.9 as svc-monitor"), err.message);
  assert(!err.message.includes("Plugin-S3cret"), "password redacted");
});

Deno.test("exec plugin: overrun is killed; garbage output is an error", async () => {
  const timeout = await assertRejects(() => runExecPlugin(input("hang", 1_500)), ExecPluginError);
  assertEquals((timeout as ExecPluginError).kind, "timeout");
  const garbage = await assertRejects(() => runExecPlugin(input("garbage")), ExecPluginError);
  assertEquals((garbage as ExecPluginError).kind, "output");
  const missing = await assertRejects(
    () => runExecPlugin({ ...input("ok"), config: { command: "no-such-plugin" } }),
    ExecPluginError,
  );
  assertEquals((missing as ExecPluginError).kind, "forbidden");
  assert(missing.message.includes("does not exist in the plugin directory"), missing.message);
});

Deno.test("exec plugin: only executables inside the plugin directory run", async (t) => {
  const refused = async (command: string, expect: string, env?: Record<string, string>) => {
    const err = await assertRejects(
      () => runExecPlugin({ ...input("ok"), config: { command, env } }),
      ExecPluginError,
    );
    assertEquals((err as ExecPluginError).kind, "forbidden", err.message);
    assert(err.message.includes(expect), `${command}: ${err.message}`);
  };
  await t.step("a shell, absolute paths elsewhere and .. are refused", async () => {
    await refused("/bin/sh", "outside the plugin directory");
    await refused(Deno.execPath(), "outside the plugin directory");
    await refused("../../../../bin/sh", '".." is not allowed');
    await refused("sub/../example-plugin", '".." is not allowed');
  });
  await t.step("a symlink out of the directory, or to a shell, is refused", async () => {
    await Deno.symlink("/bin/sh", `${pluginDir}/sh`);
    await Deno.symlink(Deno.execPath(), `${pluginDir}/runtime`);
    await refused("sh", "leads outside the plugin directory");
    await refused("runtime", "leads outside the plugin directory");
  });
  await t.step("not executable, or writable by others, is refused", async () => {
    await Deno.writeTextFile(`${pluginDir}/plain`, "#!/bin/sh\necho {}\n", { mode: 0o644 });
    await Deno.chmod(`${pluginDir}/plain`, 0o644);
    await refused("plain", "is not executable");
    await Deno.writeTextFile(`${pluginDir}/shared`, "#!/bin/sh\necho {}\n");
    await Deno.chmod(`${pluginDir}/shared`, 0o777);
    await refused("shared", "may be rewritten by other users");
  });
  await t.step("loader variables in env are refused", async () => {
    await refused("example-plugin", "LD_PRELOAD is not allowed", { LD_PRELOAD: "/tmp/x.so" });
  });
  await t.step("the absolute path inside the directory runs", async () => {
    const doc = await runExecPlugin({
      ...input("ok"),
      config: { command: `${pluginDir}/example-plugin` },
    });
    assertEquals(doc.cpu_percent, 12.5);
  });
  await t.step("without a plugin directory nothing runs", async () => {
    const err = await assertRejects(
      () => runExecPlugin({ ...input("ok"), pluginDir: `${pluginDir}/missing` }),
      ExecPluginError,
    );
    assert(err.message.includes("does not exist"), err.message);
  });
});

Deno.test("exec plugin: inherits no secret from the server's environment", async () => {
  Deno.env.set("NMSLITE_MASTER_KEY", "0".repeat(64));
  Deno.env.set("DATABASE_URL", "postgres://u:p@127.0.0.1/x");
  try {
    const err = await assertRejects(() => runExecPlugin(input("env")), ExecPluginError);
    const names = err.message.slice(err.message.indexOf("env: ") + 5).split(",");
    assert(names.includes("PATH"), err.message);
    assert(!names.some((n) => n.startsWith("NMSLITE_") || n === "DATABASE_URL"), err.message);
  } finally {
    Deno.env.delete("NMSLITE_MASTER_KEY");
    Deno.env.delete("DATABASE_URL");
  }
});
