/**
 * Real processes for the distributed tests: central processes (`main.ts --role central`),
 * poller nodes (`poller.ts`) and haproxy in front of the centrals, each on free loopback ports
 * with its output in a log file (shown when something fails to start).
 */
import { freePort } from "./ports.ts";
import { assertEquals } from "./assert.ts";
import { type Answer, apiCaller } from "../../scripts/api_caller.ts";
import { selfSignedServerCertificate } from "../../lib/tls_certificate.ts";
import { v8FlagsArg } from "../../scripts/v8_flags.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
export const MASTER_KEY = "8899aabbccddeeff00112233445566778899aabbccddeeff0011223344556677";
export const JWT_SECRET = "a-jwt-secret-for-the-distributed-tests-0123456789";
export const ADMIN_PASSWORD = "admin-password-1";

export interface Proc {
  pid: number;
  port: number;
  logPath: string;
  /** SIGTERM, wait; SIGKILL when it does not end */
  stop(): Promise<void>;
  kill9(): Promise<void>;
  log(): Promise<string>;
  exited: Promise<Deno.CommandStatus>;
}

function spawn(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  logPath: string,
  port: number,
): Proc {
  const file = Deno.openSync(logPath, { write: true, create: true, append: true });
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copy = async (s: ReadableStream<Uint8Array>) => {
    for await (const chunk of s) {
      try {
        file.writeSync(chunk);
      } catch { /* closed */ }
    }
  };
  const copies = Promise.all([copy(child.stdout), copy(child.stderr)]);
  const exited = child.status.then(async (s) => {
    await copies.catch(() => {});
    try {
      file.close();
    } catch { /* closed */ }
    return s;
  });
  let done = false;
  exited.then(() => done = true);
  return {
    pid: child.pid,
    port,
    logPath,
    exited,
    async stop() {
      if (done) return;
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 20_000);
      await exited;
      clearTimeout(timer);
    },
    async kill9() {
      if (done) return;
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await exited;
    },
    log: () => Deno.readTextFile(logPath).catch(() => ""),
  };
}

export { type Answer, apiCaller };

/**
 * For the benches: logs in as admin and makes a site and an NTLM credential profile named
 * `name` (their ids and the access token); throws on any refusal.
 */
export async function benchSite(
  call: ReturnType<typeof apiCaller>,
  name: string,
  password: string,
): Promise<{ token: string; site: number; cred: number }> {
  const ok = async (answer: Promise<Answer>) => {
    const { status, body } = await answer;
    if (status >= 300) throw new Error(`${status} ${JSON.stringify(body)}`);
    return body.data;
  };
  const token =
    (await ok(call("POST", "/auth/login", { username: "admin", password: ADMIN_PASSWORD })))
      .access_token;
  const site = (await ok(call("POST", "/sites", { name }, token))).id;
  const cred = (await ok(call("POST", "/credential-profiles", {
    name,
    type: "winrm_ntlm",
    username: "Administrator",
    password,
    port: 5985,
  }, token))).id;
  return { token, site, cred };
}

/**
 * A device at `site` and a 10 s windows-winrm monitor with `cred` for every host, `concurrency`
 * hosts at a time; the monitors' ids in the hosts' order. Asserts every answer is 201.
 */
export async function siteMonitors(
  api: (method: string, path: string, body?: unknown) => Promise<Answer>,
  hosts: { ip: string }[],
  site: number,
  cred: number,
  concurrency = 1,
): Promise<number[]> {
  const ids: number[] = new Array(hosts.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < hosts.length; i = next++) {
      const d = await api("POST", "/devices", { ip: hosts[i].ip, site_id: site });
      assertEquals(d.status, 201, JSON.stringify(d.body));
      const m = await api("POST", "/monitors", {
        device_id: d.body.data.id,
        credential_profile_id: cred,
        plugin_id: 1,
        polling_interval: 10,
      });
      assertEquals(m.status, 201, JSON.stringify(m.body));
      ids[i] = m.body.data.id;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return ids;
}

/** Polls `check` until it answers something truthy; fails naming `what` otherwise. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  guardMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + guardMs;
  let lastError: unknown;
  while (true) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`never happened: ${what}${lastError ? ` (last error: ${lastError})` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Tls {
  certFile: string;
  keyFile: string;
  cert: string;
  /** cert + key in one file, as haproxy wants it */
  pemFile: string;
}

export async function makeTls(dir: string): Promise<Tls> {
  const pems = await selfSignedServerCertificate("nmslite-test", 30);
  const certFile = `${dir}/tls.crt`;
  const keyFile = `${dir}/tls.key`;
  const pemFile = `${dir}/tls.pem`;
  await Deno.writeTextFile(certFile, pems.cert);
  await Deno.writeTextFile(keyFile, pems.private, { mode: 0o600 });
  await Deno.writeTextFile(pemFile, pems.cert + "\n" + pems.private, { mode: 0o600 });
  return { certFile, keyFile, cert: pems.cert, pemFile };
}

/** Waits until `url` answers at all (any status). */
async function reachable(url: string, proc: Proc, client?: Deno.HttpClient): Promise<void> {
  let exited = false;
  proc.exited.then(() => exited = true);
  await eventually(`${url} answers`, async () => {
    if (exited) throw new Error(`process exited:\n${(await proc.log()).slice(-3000)}`);
    const res = await fetch(url, client ? { client } as RequestInit : {});
    await res.body?.cancel();
    return true;
  }, 120_000).catch(async (err) => {
    throw new Error(`${err.message}\n${(await proc.log()).slice(-3000)}`);
  });
}

/**
 * A central process on plain HTTP (behind haproxy, which ends TLS) or on HTTPS with `tls`.
 * Started with --deny-write and --deny-run: the central role writes no file, runs nothing.
 */
export async function startCentral(
  opts: {
    databaseUrl: string;
    dir: string;
    name: string;
    port?: number;
    tls?: Tls;
    env?: Record<string, string>;
    /** V8 flags for the central process (e.g. a bench's sampling profiler) */
    v8Flags?: string[];
    /** an inspector port for the central process (a bench's heap or CPU profile over CDP) */
    inspect?: number;
  },
): Promise<Proc & { url: string }> {
  const port = opts.port ?? await freePort();
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    DATABASE_URL: opts.databaseUrl,
    NMSLITE_ROLE: "central",
    NMSLITE_JWT_SECRET: JWT_SECRET,
    NMSLITE_MASTER_KEY: MASTER_KEY,
    NMSLITE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NMSLITE_SERVER_HOST: "127.0.0.1",
    NMSLITE_SERVER_PORT: String(port),
    NMSLITE_LOG_LEVEL: "warning",
    NMSLITE_DATA_DIR: "/nonexistent-central-data-dir",
    NMSLITE_BCRYPT_COST: "10",
    ...(opts.tls
      ? { NMSLITE_TLS_CERT_FILE: opts.tls.certFile, NMSLITE_TLS_KEY_FILE: opts.tls.keyFile }
      : { NMSLITE_PLAIN_HTTP: "true", NMSLITE_TRUSTED_PROXIES: "127.0.0.1" }),
    ...opts.env,
  };
  const proc = spawn(
    Deno.execPath(),
    [
      "run",
      ...CENTRAL_PERMISSIONS,
      `--v8-flags=${[...CENTRAL_V8_FLAGS, ...opts.v8Flags ?? []].join(",")}`,
      ...(opts.inspect ? [`--inspect=127.0.0.1:${opts.inspect}`] : []),
      "main.ts",
    ],
    env,
    `${opts.dir}/${opts.name}.log`,
    port,
  );
  const url = `${opts.tls ? "https" : "http"}://127.0.0.1:${port}`;
  const client = opts.tls ? Deno.createHttpClient({ caCerts: [opts.tls.cert] }) : undefined;
  await reachable(`${url}/health`, proc, client);
  client?.close();
  return { ...proc, url };
}

/**
 * The central's V8 flags (`deno task start:central`, docs/deploy.md): no background threads.
 * A central wakes for a few requests a second, and V8's worker threads, woken for every bit of
 * concurrent GC and compilation, spent ~20 % of its CPU in the kernel; bench:distributed (20,000
 * hosts, 4 nodes): 0.080 -> 0.052 ms of central CPU per row.
 */
export const CENTRAL_V8_FLAGS = ["--single-threaded"];

/** What the central role is started with: no file writes, no subprocesses (docs/deploy.md). */
export const CENTRAL_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-sys",
  "--allow-ffi",
  "--deny-write",
  "--deny-run",
];

/**
 * haproxy ending TLS on a free port, with health checks: the API round robin over the centrals,
 * a node's own traffic (channel, reports, ingest) to one central while it is up (docs/deploy.md).
 */
export async function startHaproxy(
  opts: { dir: string; tls: Tls; backends: number[] },
): Promise<Proc & { url: string }> {
  const port = await freePort();
  const cfg = `${opts.dir}/haproxy.cfg`;
  await Deno.writeTextFile(
    cfg,
    `global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 1h
  timeout server 1h
  timeout tunnel 1h
  option http-server-close
  retries 2
  option redispatch
frontend fe
  bind 127.0.0.1:${port} ssl crt ${opts.tls.pemFile}
  http-request set-header X-Forwarded-Proto https
  use_backend nodes if { path_beg /api/v1/ingest /api/v1/nodes/ }
  default_backend centrals
backend centrals
  balance roundrobin
  option httpchk GET /health
  default-server inter 500ms fall 2 rise 1
${opts.backends.map((p, i) => `  server c${i} 127.0.0.1:${p} check`).join("\n")}
backend nodes
  balance hdr(authorization)
  hash-type consistent
  option httpchk GET /health
  default-server inter 500ms fall 2 rise 1
${opts.backends.map((p, i) => `  server c${i} 127.0.0.1:${p} check`).join("\n")}
`,
  );
  const proc = spawn(
    "/usr/sbin/haproxy",
    ["-db", "-f", cfg],
    {
      PATH: Deno.env.get("PATH") ?? "",
    },
    `${opts.dir}/haproxy.log`,
    port,
  );
  const url = `https://127.0.0.1:${port}`;
  const client = Deno.createHttpClient({ caCerts: [opts.tls.cert] });
  await reachable(`${url}/health`, proc, client);
  client.close();
  return { ...proc, url };
}

/** A poller node process; `enrolmentToken` is needed on its first start only. */
export async function startNode(
  opts: {
    centralUrl: string;
    dir: string;
    name: string;
    caFile?: string;
    enrolmentToken?: string;
    env?: Record<string, string>;
    /** start the node under `ulimit -n nofile` (soft and hard, through bash) */
    nofile?: number;
  },
): Promise<Proc & { dataDir: string; metrics(): Promise<Record<string, number>> }> {
  const port = await freePort();
  const dataDir = `${opts.dir}/${opts.name}`;
  await Deno.mkdir(dataDir, { recursive: true });
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    NMSLITE_CENTRAL_URL: opts.centralUrl,
    NMSLITE_DATA_DIR: dataDir,
    NMSLITE_NODE_LISTEN: `127.0.0.1:${port}`,
    NMSLITE_LOG_LEVEL: "warning",
    NMSLITE_POLL_RETRIES: "0",
    NMSLITE_POLL_TIMEOUT: "5s",
    NMSLITE_POLLERS: "1",
    ...(opts.caFile ? { NMSLITE_CENTRAL_CA_FILE: opts.caFile } : {}),
    ...(opts.enrolmentToken ? { NMSLITE_ENROLMENT_TOKEN: opts.enrolmentToken } : {}),
    ...opts.env,
  };
  const args = ["run", "--allow-all", v8FlagsArg(), "poller.ts"];
  const proc = spawn(
    opts.nofile ? "bash" : Deno.execPath(),
    opts.nofile
      ? [
        "-c",
        `ulimit -Sn ${opts.nofile} && ulimit -Hn ${opts.nofile} && exec "$@"`,
        "bash",
        Deno.execPath(),
        ...args,
      ]
      : args,
    env,
    `${opts.dir}/${opts.name}.log`,
    port,
  );
  await reachable(`http://127.0.0.1:${port}/metrics`, proc);
  return {
    ...proc,
    dataDir,
    async metrics() {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const out: Record<string, number> = {};
      for (const line of (await res.text()).split("\n")) {
        if (!line || line.startsWith("#")) continue;
        const [name, value] = line.split(" ");
        out[name] = Number(value);
      }
      return out;
    },
  };
}
