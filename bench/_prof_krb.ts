import process from "node:process";
import { WinrmClient } from "../lib/winrm/client.ts";
import { collect, identify } from "../lib/collectors/windows_winrm.ts";
import { type Kdc, startKdc } from "../tests/helpers/kdc.ts";
const argv: string[] = [];
const SECONDS = Number(Deno.env.get("S") ?? 6);
const WARMUP_SECONDS = 2;
const HOSTS = 4;
const PIPELINING = true;
const KERBEROS = !argv.includes("--no-kerberos");
const KRB_HOST = "winsim.nmslite.test";
const KRB_SPN = `HTTP/${KRB_HOST}`;
const PASSWORD = "Bench-Passw0rd!";
const USER = "Administrator";
const BASE = "127.0.40.1";
const root = new URL("../", import.meta.url);

type Mode = "basic-https" | "ntlm-http" | "kerberos-http" | "kerberos-https";

interface Sim {
  child: Deno.ChildProcess;
  hosts: string[];
  httpPort: number;
  httpsPort: number;
}

function freePort(): number {
  const l = Deno.listen({ hostname: BASE, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function startSim(keytab?: string): Promise<Sim> {
  const [http, https] = [freePort(), freePort()];
  const kerberos = keytab ? ["--keytab", keytab, "--spn", KRB_SPN] : [];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "winsim/main.ts",
      "--hosts",
      String(HOSTS),
      "--base",
      BASE,
      "--http-port",
      String(http),
      "--https-port",
      String(https),
      ...kerberos,
    ],
    cwd: root,
    env: { WINSIM_PASSWORD: PASSWORD },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("simulator exited before it was ready");
    buf += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const ready = JSON.parse(buf.slice(0, buf.indexOf("\n")));
  return { child, hosts: ready.hosts, httpPort: ready.httpPort, httpsPort: ready.httpsPort };
}

let kdc: Kdc | null = null;

function client(sim: Sim, mode: Mode, host: string): WinrmClient {
  const https = mode === "basic-https" || mode === "kerberos-https";
  const kerberos = mode.startsWith("kerberos");
  return new WinrmClient({
    host,
    port: https ? sim.httpsPort : sim.httpPort,
    https,
    auth: kerberos ? "kerberos" : https ? "basic" : "ntlm",
    username: kerberos ? `${USER}@${kdc!.realm}` : USER,
    password: PASSWORD,
    kerberos: kerberos ? { kdcs: [`${kdc!.host}:${kdc!.port}`], spn: KRB_SPN } : undefined,
    tls: { verify: "insecure" },
    pipelining: PIPELINING,
  });
}

interface Row {
  client: string;
  mode: Mode;
  concurrency: number;
  polls: number;
  pollsPerS: number;
  cpuMsPerPoll: number;
  pollsPerCpuS: number;
  connections?: number;
}

async function ours(sim: Sim, mode: Mode, concurrency: number): Promise<Row> {
  const clients = sim.hosts.slice(0, concurrency).map((h) => client(sim, mode, h));
  try {
    await Promise.all(clients.map((c) => identify(c)));
    const warm = performance.now() + WARMUP_SECONDS * 1000;
    do {
      await Promise.all(clients.map((c) => collect(c)));
    } while (performance.now() < warm);
    let polls = 0;
    const deadline = performance.now() + SECONDS * 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < deadline) {
        await collect(c);
        polls++;
      }
    }));
    const wall = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    return {
      client: "nmslite",
      mode,
      concurrency,
      polls,
      pollsPerS: polls / wall,
      cpuMsPerPoll: cpuMs / polls,
      pollsPerCpuS: polls / (cpuMs / 1000),
      connections: clients.reduce((n, c) => n + c.stats().opened, 0),
    };
  } finally {
    for (const c of clients) c.close();
  }
}

kdc = await startKdc();
await kdc.addPrincipal(USER, PASSWORD);
const keytab = (await kdc.addService(KRB_SPN)).keytabPath;
const sim = await startSim(keytab);
try {
  for (const mode of (Deno.env.get("MODES") ?? "ntlm-http,kerberos-http").split(",") as Mode[]) {
    const r = await ours(sim, mode, 1);
    console.log(mode, r.cpuMsPerPoll.toFixed(3), "ms/poll", r.polls);
  }
} finally {
  await kdc.stop();
  sim.child.kill("SIGTERM");
  await sim.child.status;
}
