/**
 * `deno task bench:winrm-memory [-- --hosts 2000]`: what a polled host costs the WinRM
 * client in memory. Polls every simulated host twice (NTLM over HTTP, the poller's entry
 * point and process-wide pool, 100 at a time), then collects garbage and reports the growth of
 * the V8 heap in use per host: the host's client, transport, envelope builder, kept-alive
 * connection and NTLM session. A poller Worker holds this for each of its hosts, so at 25,000
 * hosts a Worker every KB per host is 25 MB of live heap (and about twice that of heap).
 * `--snapshot FILE` also writes a heap snapshot (for Chromium's memory tab) at the end.
 */
import { parseArgs } from "node:util";
import { collectWindowsDocument } from "../lib/collectors/windows_winrm.ts";
import type { WinrmCredential } from "../lib/winrm/mod.ts";

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

function freePort(): number {
  const l = Deno.listen({ hostname: values.base, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const port = freePort();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    new URL("../winsim/main.ts", import.meta.url).pathname,
    "--hosts",
    String(HOSTS),
    "--base",
    values.base!,
    "--http-port",
    String(port),
    "--https-port",
    String(freePort()),
  ],
  env: { WINSIM_PASSWORD: PASSWORD },
  stdout: "piped",
  stderr: "inherit",
}).spawn();
try {
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("simulator exited before it was ready");
    buf += value;
  }
  reader.releaseLock();
  const hosts: string[] = JSON.parse(buf.slice(0, buf.indexOf("\n"))).hosts;
  const credential: WinrmCredential = {
    type: "winrm_ntlm",
    username: "Administrator",
    password: PASSWORD,
    port,
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
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
}
Deno.exit(0);
