/**
 * Starts NMSlite (`main.ts`) as a separate process on a free loopback port with a throw-away
 * data directory, for newman and the API benchmark. The child's output goes to a log file in
 * that directory, shown only when the server fails to start.
 */
import { v8FlagsArg } from "./v8_flags.ts";

export interface ChildServer {
  /** http://127.0.0.1:<port>, or https://… with `https: true` */
  url: string;
  /** `https: true`: the server's self-signed certificate (PEM), for the clients' caCerts */
  caCert?: string;
  adminUsername: string;
  /** Random per run; callers must not print it. */
  adminPassword: string;
  databaseKind: "pglite" | "postgres";
  /** The server's process id (the benchmark reads its CPU time from /proc). */
  pid: number;
  /** The server's stdout and stderr (inside its data directory, removed by stop()). */
  logPath: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes the data directory; idempotent. */
  stop(): Promise<void>;
}

export interface ChildServerOptions {
  /** postgres://… to use instead of the embedded database. */
  databaseUrl?: string;
  logLevel?: "debug" | "info" | "warning" | "error";
  /** Extra environment for the server (NMSLITE_*). */
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /**
   * Open-files limit for the server process, as `ulimit -n` sets it: one number for soft and
   * hard limit alike, or `{soft, hard}`. The child starts through bash, which lowers its
   * limits and execs Deno (same process id).
   */
  nofile?: number | { soft: number; hard: number };
  /** Start the server under `ulimit -n <fdLimit>` (through bash): `nofile` with one number. */
  fdLimit?: number;
  /**
   * The first admin's password (default: random per server). Servers started one after the
   * other on the same PostgreSQL database share their users, so they need the same one.
   */
  adminPassword?: string;
  /** Serve HTTPS with the self-signed certificate made in the data directory (default: plain). */
  https?: boolean;
  /** Exec plugins to install in `<data_dir>/plugins`: name -> executable to copy there. */
  plugins?: Record<string, string>;
  /**
   * More V8 flags for the server, after SERVER_V8_FLAGS (scripts/v8_flags.ts), e.g. `--prof`
   * for a CPU profile per isolate.
   */
  v8Flags?: string[];
}

/** Installs executables in a plugin directory as an administrator would (copies, mode 0755). */
export async function installPlugins(dir: string, plugins: Record<string, string>): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, source] of Object.entries(plugins)) {
    await Deno.copyFile(source, `${dir}/${name}`);
    await Deno.chmod(`${dir}/${name}`, 0o755);
  }
}

// The repository root, where main.ts and deno.json live.
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** SIGTERM, then SIGKILL if the process is still there after `graceMs`; resolves on exit. */
export async function terminate(
  child: Deno.ChildProcess,
  status: Promise<unknown> = child.status,
  graceMs = 10_000,
): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, graceMs);
  await status;
  clearTimeout(timer);
}

/** A TCP port free on loopback right now (bound and released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

export async function startChildServer(opts: ChildServerOptions = {}): Promise<ChildServer> {
  const dataDir = await Deno.makeTempDir({ prefix: "nmslite-child-" });
  const logPath = `${dataDir}/server.log`;
  if (opts.plugins) await installPlugins(`${dataDir}/plugins`, opts.plugins);
  const port = freePort();
  const adminUsername = "admin";
  const adminPassword = opts.adminPassword ?? `pw-${crypto.randomUUID()}`;
  // Settings from the caller's shell (NMSLITE_*, DATABASE_URL) must not leak into a run that is
  // meant to start from nothing, so the child gets an explicit environment.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!k.startsWith("NMSLITE_") && k !== "DATABASE_URL") env[k] = v;
  }
  Object.assign(env, {
    NMSLITE_DATA_DIR: dataDir,
    NMSLITE_ADMIN_USERNAME: adminUsername,
    NMSLITE_ADMIN_PASSWORD: adminPassword,
    NMSLITE_LOG_LEVEL: opts.logLevel ?? "info",
    ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}),
    ...opts.env,
  });
  const denoArgs = [
    "run",
    "--allow-all",
    v8FlagsArg(opts.v8Flags),
    "main.ts",
    "--server.host",
    "127.0.0.1",
    "--server.port",
    String(port),
    ...(opts.https ? [] : ["--plain-http"]),
  ];
  const nofile = opts.nofile ?? opts.fdLimit;
  const limit = typeof nofile === "number" ? { soft: nofile, hard: nofile } : nofile;
  const child = new Deno.Command(limit ? "bash" : Deno.execPath(), {
    args: limit
      ? [
        "-c",
        // soft first: a hard limit below the current soft one is refused
        `ulimit -Sn ${Math.trunc(limit.soft)} && ulimit -Hn ${Math.trunc(limit.hard)} && exec "$@"`,
        "bash",
        Deno.execPath(),
        ...denoArgs,
      ]
      : denoArgs,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logFile = await Deno.open(logPath, { write: true, create: true, append: true });
  // Both streams append to one file; each pipe gets its own writer over the same handle.
  const drain = (stream: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of stream) await logFile.write(chunk).catch(() => 0);
    })().catch(() => {});
  const drained = Promise.all([drain(child.stdout), drain(child.stderr)]);
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      if (!exited) await terminate(child, status);
      await drained;
      logFile.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    })();

  const url = `${opts.https ? "https" : "http"}://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.startTimeoutMs ?? 120_000);
  // HTTPS: the certificate exists once the server has made it on its way up.
  let caCert: string | undefined;
  let client: Deno.HttpClient | undefined;
  try {
    while (true) {
      if (exited) throw new Error(`server exited with code ${(await status).code}`);
      if (Date.now() > deadline) throw new Error("server did not become healthy in time");
      try {
        if (opts.https && !client) {
          caCert = await Deno.readTextFile(`${dataDir}/tls.crt`);
          client = Deno.createHttpClient({ caCerts: [caCert] });
        }
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000), client });
        const body = await res.json();
        if (res.status === 200 && body?.data?.database?.reachable) {
          client?.close();
          return {
            url,
            caCert,
            adminUsername,
            adminPassword,
            databaseKind: body.data.database.kind,
            pid: child.pid,
            logPath,
            stop,
          };
        }
      } catch { /* not listening yet */ }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (err) {
    client?.close();
    const log = await Deno.readTextFile(logPath).catch(() => "");
    console.error(`--- server log (last lines) ---\n${log.split("\n").slice(-30).join("\n")}`);
    await stop();
    throw err;
  }
}

/** Runs `fn` with a started server and always stops it, also on Ctrl-C / SIGTERM. */
export async function withChildServer<T>(
  opts: ChildServerOptions,
  fn: (server: ChildServer) => Promise<T>,
): Promise<T> {
  const server = await startChildServer(opts);
  const onSignal = () => {
    server.stop().finally(() => Deno.exit(130));
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await fn(server);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
    await server.stop();
  }
}
