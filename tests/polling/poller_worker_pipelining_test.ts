/**
 * polling.winrm_pipelining reaches the poller Workers: a real workers/poller.ts polls a
 * simulated host over WinRM, and the simulator counts the requests that arrived pipelined.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import type { Credential, PollerCommand, PollerEvent, PollerStats } from "../../lib/messages.ts";
import { startWinsim, type Winsim } from "../../winsim/mod.ts";

const PASSWORD = "Worker-Passw0rd!";

async function pollOnce(sim: Winsim, winrmPipelining: boolean): Promise<PollerStats> {
  const host = sim.hosts[0];
  const dir = await Deno.makeTempDir({ prefix: "nmslite-poller-" });
  const worker = new Worker(new URL("../../workers/poller.ts", import.meta.url).href, {
    type: "module",
  });
  const credential: Credential = {
    id: 1,
    type: "winrm_ntlm",
    username: sim.username,
    password: PASSWORD,
    domain: null,
    port: host.httpPort,
    useSsl: false,
    tlsVerify: "system",
    tlsCaPem: null,
    allowUnencrypted: false,
    version: "1",
  };
  let latest: PollerStats | null = null;
  let stopped: () => void = () => {};
  const stoppedP = new Promise<void>((r) => (stopped = r));
  worker.onmessage = (e: MessageEvent<PollerEvent>) => {
    const ev = e.data;
    if (ev.type === "credential-request") {
      worker.postMessage(
        { type: "credential", requestId: ev.requestId, credential } satisfies PollerCommand,
      );
    } else if (ev.type === "stats") latest = ev.stats;
    else if (ev.type === "stopped") stopped();
  };
  const send = (cmd: PollerCommand) => worker.postMessage(cmd);
  try {
    send({
      type: "init",
      workerId: 1,
      kvPath: `${dir}/queue.kv`,
      concurrency: 4,
      perHostLimit: 1,
      pollTimeoutMs: 10_000,
      retries: 0,
      retryBackoffMs: 100,
      credentialTtlMs: 60_000,
      winrmPipelining,
    });
    while (!latest) await new Promise((r) => setTimeout(r, 20)); // init done: first stats
    send({
      type: "poll",
      job: {
        monitorId: 1,
        deviceId: 1,
        deviceIp: host.ip,
        credentialProfileId: 1,
        pluginId: 1,
        dueAt: Date.now(),
        intervalS: 60,
      },
      plugin: { id: 1, name: "windows-winrm", type: "builtin", config: {} },
    });
    for (;;) {
      await new Promise((r) => setTimeout(r, 50));
      send({ type: "stats" });
      const s = latest as PollerStats | null;
      if (s && s.polls.ok + s.polls.failed > 0) return s;
    }
  } finally {
    send({ type: "stop" });
    await stoppedP;
    worker.terminate();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const on of [true, false]) {
  Deno.test(`poller Worker with winrmPipelining=${on}`, async () => {
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.43.1",
      httpPort: 0,
      httpsPort: null,
      password: PASSWORD,
    });
    try {
      const stats = await pollOnce(sim, on);
      assertEquals(stats.polls, { ok: 1, failed: 0, retried: 0 });
      const s = sim.stats(sim.hosts[0].ip);
      assertEquals(s.enumerations, 4, "one poll: four queries");
      if (on) assert(s.pipelinedRequests >= 1, "queries arrived pipelined");
      else assertEquals(s.pipelinedRequests, 0, "one request at a time");
    } finally {
      await sim.close();
    }
  });
}
