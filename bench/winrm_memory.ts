/**
 * `deno task bench:winrm-memory [-- --hosts 2000]`: what a polled host costs the WinRM
 * client in memory. Polls every simulated host twice (NTLM over HTTP, the poller's entry
 * point and process-wide pool, 100 at a time; the simulator as bench:fleet starts it), then
 * collects garbage and reports the growth of the V8 heap in use per host: the host's client,
 * transport, envelope builder, kept-alive connection and NTLM session. A poller Worker holds
 * this for each of its hosts, so at 25,000 hosts a Worker every KB per host is 25 MB of live
 * heap (and about twice that of reserved heap).
 * `--snapshot FILE` also writes a heap snapshot (for Chromium's memory tab) at the end.
 */
import { parseArgs } from "node:util";
import { collectWindowsDocument } from "../lib/collectors/windows_winrm.ts";
import type { WinrmCredential } from "../lib/winrm/mod.ts";
import { startSimulator } from "./fleet_procs.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const { values } = parseArgs({
  args: argv,
  options: {
    hosts: { type: "string", default: "2000" },
    base: { type: "string", default: "127.0.50.1" },
    snapshot: { type: "string", default: "" },
  },
});
const HOSTS = Number(values.hosts);
const PASSWORD = "Bench-Passw0rd!";
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("run with --v8-flags=--expose-gc (deno task bench:winrm-memory does)");
  Deno.exit(2);
}

const logDir = await Deno.makeTempDir({ prefix: "nmslite-bench-winrm-memory-" });
const sim = await startSimulator({ hosts: HOSTS, base: values.base!, password: PASSWORD, logDir });
try {
  const hosts = sim.hosts;
  const credential: WinrmCredential = {
    type: "winrm_ntlm",
    username: "Administrator",
    password: PASSWORD,
    port: 5985,
    useSsl: false,
    tlsVerify: "insecure",
    allowUnencrypted: false,
  };
  const settle = () => {
    for (let i = 0; i < 3; i++) gc();
  };
  const signal = new AbortController().signal;
  settle();
  const before = Deno.memoryUsage();
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < hosts.length; i += 100) {
      await Promise.all(
        hosts.slice(i, i + 100).map((h) => collectWindowsDocument(h, credential, signal)),
      );
    }
  }
  settle();
  const after = Deno.memoryUsage();
  const perHost = (a: number, b: number) => ((b - a) / hosts.length / 1024).toFixed(1);
  console.log(`| hosts polled (each twice, NTLM/HTTP, kept alive) | ${hosts.length} |`);
  console.log(`| V8 heap in use per host | ${perHost(before.heapUsed, after.heapUsed)} KB |`);
  console.log(`| V8 heap reserved per host | ${perHost(before.heapTotal, after.heapTotal)} KB |`);
  console.log(`| RSS per host (noisy: heap growth) | ${perHost(before.rss, after.rss)} KB |`);
  if (values.snapshot) {
    const v8 = await import("node:v8");
    console.log(`heap snapshot: ${v8.writeHeapSnapshot(values.snapshot)}`);
  }
} finally {
  await sim.stop();
  await Deno.remove(logDir, { recursive: true });
}
Deno.exit(0);
