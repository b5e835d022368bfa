/**
 * `deno task bench:wmi [-- --seconds 5 --warmup 3]`
 *
 * Measures the WMI-over-DCOM client's full poll (lib/collectors/windows_wmi.ts collectWmi():
 * the collector's four WQL queries, each ExecQuery + Next + RemRelease, sealed at packet
 * privacy, on a kept connection) against the simulator (winsim/main.ts) running as a separate
 * process, so this process's CPU is the client's alone. Then runs the same four queries with
 * impacket (/usr/bin/python3, bench/impacket_wmi_poll.py; one object per Next, as its
 * wmiquery.py does) against the same simulated host for comparison.
 *
 * Reported: polls/s (wall), client CPU ms per poll, polls per client CPU-second, and the ratio.
 * Target: >= 10x impacket's polls per CPU-second. The simulator listens on TCP 135 of
 * 127.0.41.1 (impacket always activates on 135): run as root or with CAP_NET_BIND_SERVICE.
 */
import process from "node:process";
import { WmiClient } from "../lib/wmi/client.ts";
import { collectWmi, identifyWmi } from "../lib/collectors/windows_wmi.ts";
import { WQL } from "../lib/collectors/windows_winrm.ts";

const argv = Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args;
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const SECONDS = opt("seconds", 5);
const WARMUP_SECONDS = opt("warmup", 3);
const PASSWORD = "Bench-Wmi-Passw0rd!";
const USER = "Administrator";
const HOST = "127.0.41.1";
const root = new URL("../", import.meta.url);
const QUERIES = [WQL.cpu, WQL.memory, WQL.disks, WQL.network];

interface Row {
  client: string;
  polls: number;
  wallS: number;
  cpuMsPerPoll: number;
  pollsPerCpuS: number;
}

async function startSim(): Promise<Deno.ChildProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "winsim/main.ts",
      "--hosts",
      "1",
      "--base",
      HOST,
      "--http-port",
      "0",
      "--no-https",
      "--rpc-port",
      "135",
    ],
    cwd: root.pathname,
    env: { WINSIM_PASSWORD: PASSWORD },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("simulator exited");
    buf += value;
  }
  if (!JSON.parse(buf.split("\n")[0]).ready) throw new Error("simulator not ready");
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return child;
}

async function ours(): Promise<Row> {
  const client = new WmiClient({ host: HOST, username: USER, password: PASSWORD });
  try {
    await identifyWmi(client);
    const until = Date.now() + WARMUP_SECONDS * 1000;
    while (Date.now() < until) await collectWmi(client);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let polls = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      await collectWmi(client);
      polls++;
    }
    const wallS = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    if (client.counters.connects !== 1) throw new Error("the connection was not kept");
    return {
      client: "nmslite",
      polls,
      wallS,
      cpuMsPerPoll: cpuMs / polls,
      pollsPerCpuS: polls / (cpuMs / 1000),
    };
  } finally {
    await client.close();
  }
}

async function impacket(): Promise<Row | null> {
  const spec = {
    host: HOST,
    user: USER,
    password: PASSWORD,
    queries: QUERIES,
    warmup: 1,
    seconds: SECONDS,
  };
  const out = await new Deno.Command("/usr/bin/python3", {
    args: [new URL("bench/impacket_wmi_poll.py", root).pathname, JSON.stringify(spec)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    console.error(`impacket failed: ${new TextDecoder().decode(out.stderr).slice(-800)}`);
    return null;
  }
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  return {
    client: "impacket",
    polls: r.polls,
    wallS: r.wall_s,
    cpuMsPerPoll: r.cpu_s * 1000 / r.polls,
    pollsPerCpuS: r.polls / r.cpu_s,
  };
}

const sim = await startSim();
try {
  const rows = [await ours()];
  const py = await impacket();
  if (py) rows.push(py);
  const f = (n: number, d = 2) => n.toFixed(d);
  console.log("client     polls/s  CPU ms/poll  polls/CPU-s");
  for (const r of rows) {
    console.log(
      `${r.client.padEnd(10)} ${f(r.polls / r.wallS, 1).padStart(7)}  ${
        f(r.cpuMsPerPoll, 3).padStart(11)
      }  ${f(r.pollsPerCpuS, 0).padStart(11)}`,
    );
  }
  if (py) {
    const ratio = rows[0].pollsPerCpuS / py.pollsPerCpuS;
    console.log(`ratio: ${f(ratio, 1)}x impacket's polls per CPU-second (target >= 10x)`);
    console.log(JSON.stringify({ nmslite: rows[0], impacket: py, ratio }));
  }
} finally {
  sim.kill("SIGTERM");
  await sim.status;
}
