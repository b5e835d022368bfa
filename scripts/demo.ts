/**
 * `deno task demo`: NMSlite on the embedded database with 25 simulated Windows hosts on
 * loopback (a few failing in different ways), a credential profile and a discovery profile for
 * their range, discovery run, and a monitor per discovered host, so a newcomer sees discovery,
 * polling and the health monitor at work in one command. Ctrl-C stops everything.
 *
 *   deno task demo [-- --port 8080 --data-dir ./data/demo --host 127.0.0.1]   (or NMSLITE_* variables)
 */
import { startWinsim } from "../winsim/mod.ts";
import { ConfigError, loadConfig } from "../lib/config.ts";
import { apiCaller } from "./api_caller.ts";

// The demo reads the same settings as `deno task start` (flags > environment > config file,
// README's table) and passes them on to main.ts unchanged; only its defaults differ: port
// 8080, data in ./data/demo, and loopback only. Plain HTTP is the default only on loopback.
const args = Deno.args[0] === "--" ? Deno.args.slice(1) : [...Deno.args];
const env = Deno.env.toObject();
const DEMO_DEFAULTS: Record<string, string> = {
  NMSLITE_SERVER_HOST: "127.0.0.1",
  NMSLITE_SERVER_PORT: "8080",
  NMSLITE_DATA_DIR: "./data/demo",
  NMSLITE_LOG_LEVEL: "warning",
  // quick feedback for the demo: a device is marked unreachable after 3 failed polls
  NMSLITE_HEALTH_FAILURE_THRESHOLD: "3",
  NMSLITE_POLL_RETRIES: "1",
  NMSLITE_POLL_TIMEOUT: "5s",
};
const childEnv: Record<string, string> = { ...DEMO_DEFAULTS };
for (const [k, v] of Object.entries(env)) if (v !== "") childEnv[k] = v;
const config = (() => {
  try {
    const first = loadConfig(args, childEnv);
    const plainGiven = childEnv.NMSLITE_PLAIN_HTTP !== undefined ||
      args.some((a) => /^--(plain-http|server\.plain_http)\b/.test(a));
    if (!plainGiven) {
      childEnv.NMSLITE_PLAIN_HTTP = isLoopback(first.server.host) ? "true" : "false";
    }
    return loadConfig(args, childEnv);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`demo: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
})();

function isLoopback(host: string): boolean {
  return /^127\./.test(host) || host === "::1" || host === "localhost";
}

/**
 * The admin password: the configured one, else the one this demo generated for this data
 * directory earlier (kept there, mode 0600), else a new random one.
 */
async function adminPassword(): Promise<string> {
  if (config.admin.password) return config.admin.password;
  const file = `${config.data_dir}/demo-admin-password`;
  const kept = await Deno.readTextFile(file).then((t) => t.trim(), () => "");
  if (kept) return kept;
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  const password = btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_");
  await Deno.mkdir(config.data_dir, { recursive: true });
  await Deno.writeTextFile(file, password + "\n", { mode: 0o600 });
  return password;
}

const ADMIN = { username: config.admin.username, password: await adminPassword() };
childEnv.NMSLITE_ADMIN_PASSWORD = ADMIN.password;
const { host, port, plain_http: plain } = config.server;
const SIM_PASSWORD = "Demo-Passw0rd!";
const BASE = "127.0.30";

const sim = await startWinsim({
  hosts: 25,
  base: `${BASE}.1`,
  username: "Administrator",
  password: SIM_PASSWORD,
  tcpOnly: [`${BASE}.100`],
  rpcPort: 135,
});
console.log(`simulated ${sim.hosts.length} Windows hosts on ${BASE}.1-${BASE}.25`);

const root = decodeURIComponent(new URL("../", import.meta.url).pathname);
const server = new Deno.Command(Deno.execPath(), {
  // Run from the caller's directory so relative paths (data dir, config file) mean the same.
  args: ["run", "--allow-all", "--config", `${root}deno.json`, `${root}main.ts`, ...args],
  env: childEnv,
  clearEnv: true,
  stdin: "null",
}).spawn();

const shownHost = host === "0.0.0.0" || host === "::" ? "localhost" : host;
const url = `${plain ? "http" : "https"}://${
  shownHost.includes(":") ? `[${shownHost}]` : shownHost
}:${port}`;
// The demo's own requests go over loopback; over HTTPS they trust the server's certificate.
const apiBase = `${plain ? "http" : "https"}://${
  host === "0.0.0.0"
    ? "127.0.0.1"
    : host === "::"
    ? "[::1]"
    : shownHost.includes(":")
    ? `[${shownHost}]`
    : shownHost
}:${port}`;
let client: Deno.HttpClient | undefined;
console.log(`NMSlite demo: ${url}  (log in as ${ADMIN.username} / ${ADMIN.password})`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  try {
    server.kill("SIGTERM");
  } catch { /* already gone */ }
  await server.status;
  await sim.close();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

async function api(method: string, path: string, token?: string, body?: unknown) {
  const res = await apiCaller(apiBase, client)(method, path, body, token);
  if (res.status >= 300 && res.status !== 409) {
    throw new Error(`${method} ${path}: ${res.status} ${res.body?.error?.message}`);
  }
  return res.body;
}

for (let i = 0;; i++) {
  try {
    if (!plain && !client) {
      const certFile = config.server.cert_file ?? `${config.data_dir}/tls.crt`;
      client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(certFile)] });
    }
    const res = await fetch(`${apiBase}/health`, { client });
    await res.body?.cancel();
    if (res.ok) break;
  } catch { /* not up yet */ }
  if (i > 600) throw new Error("NMSlite did not start");
  await new Promise((r) => setTimeout(r, 200));
}

const token = (await api("POST", "/auth/login", undefined, ADMIN)).data.access_token;
const existing = (await api("GET", "/credential-profiles?limit=500", token)).data as {
  id: number;
  name: string;
}[];
const cred = existing.find((c) => c.name === "Demo administrators") ??
  (await api("POST", "/credential-profiles", token, {
    name: "Demo administrators",
    type: "winrm_ntlm",
    username: "Administrator",
    password: SIM_PASSWORD,
  })).data;
const profiles = (await api("GET", "/discovery-profiles?limit=500", token)).data as {
  id: number;
  name: string;
}[];
const profile = profiles.find((p) => p.name === "Demo lab") ??
  (await api("POST", "/discovery-profiles", token, {
    name: "Demo lab",
    credential_profile_id: cred.id,
    target: `${BASE}.0/24`,
  })).data;

console.log("running discovery of", `${BASE}.0/24`, "…");
const result = (await api("POST", `/discovery-profiles/${profile.id}/run?wait=true`, token)).data;
const seconds = (Date.parse(result.run.finished_at) - Date.parse(result.run.started_at)) / 1000;
console.log(
  `discovery: ${result.run.addresses_scanned} addresses, ${result.run.hosts_found} hosts found, ` +
    `${result.found} identified, ${result.run.failed} not identified, in ${seconds.toFixed(1)} s`,
);
const monitored = new Set(
  ((await api("GET", "/monitors?limit=500", token)).data as { device_id: number }[]).map((m) =>
    m.device_id
  ),
);
for (const d of result.devices as { id: number }[]) {
  if (monitored.has(d.id)) continue;
  await api("POST", "/monitors", token, {
    device_id: d.id,
    credential_profile_id: cred.id,
    plugin_id: 1,
    polling_interval: 10,
  });
}
// Once they are monitored, a few hosts start to misbehave, each differently.
sim.setFault(`${BASE}.4`, { kind: "slow", ms: 800 });
sim.setFault(`${BASE}.7`, { kind: "reset" });
sim.setFault(`${BASE}.11`, { kind: "malformed" });
sim.setFault(`${BASE}.16`, { kind: "fault", subcode: "AccessDenied" });
console.log(`
NMSlite demo is running: ${url}
  log in as ${ADMIN.username} / ${ADMIN.password}
  API docs:   ${url}/api/v1/docs
  Prometheus: ${url}/metrics
Every identified host is polled every 10 s. Now ${BASE}.4 answers slowly (but in time), ${BASE}.7 resets
every connection, ${BASE}.11 sends broken XML and ${BASE}.16 denies access: watch their
monitors' last_error, and the devices become unreachable after 3 failed polls. Ctrl-C stops.`);
await server.status;
await sim.close();
