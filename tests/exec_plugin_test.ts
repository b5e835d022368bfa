import { assert, assertEquals, assertRejects } from "./helpers/assert.ts";
import { ExecPluginError, runExecPlugin } from "../lib/collectors/exec_plugin.ts";
import { toMetricSample } from "../lib/collectors/metrics_document.ts";
import type { Credential } from "../lib/messages.ts";

const PLUGIN = new URL("./fixtures/plugins/example_plugin.ts", import.meta.url).pathname;
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
  config: {
    command: Deno.execPath(),
    args: ["run", "--quiet", "--allow-read", PLUGIN],
    timeout_ms,
    mode,
  },
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
    () => runExecPlugin({ ...input("ok"), config: { command: "/nonexistent/plugin" } }),
    ExecPluginError,
  );
  assertEquals((missing as ExecPluginError).kind, "spawn");
});
