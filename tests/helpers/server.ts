/**
 * A real NMSlite server for integration tests: the full application (bootstrap, migrations,
 * HTTP through lib/web/serve.ts as main.ts serves it) listening on a loopback port, over the
 * embedded database or a scratch PostgreSQL.
 */
import { loadConfig } from "../../lib/config.ts";
import { compose, type System } from "../../lib/compose.ts";
import { createApp } from "../../routes/app.ts";
import { serve } from "../../lib/web/serve.ts";
import { type Backend, createScratchDatabase, type ScratchDatabase } from "./databases.ts";
import { WORKER_URLS } from "../../workers/urls.ts";
import { installPlugins } from "../../scripts/child_server.ts";

export const ADMIN_PASSWORD = "admin-password-1";

export interface TestServer {
  url: string;
  api: string;
  ctx: System;
  /** the scratch PostgreSQL database, when the backend is postgres */
  scratch?: ScratchDatabase;
  dataDir: string;
  /** Logs in and returns an access token. */
  login(username?: string, password?: string): Promise<string>;
  /** fetch + JSON for the API with a bearer token. */
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; headers?: Record<string, string> },
    // deno-lint-ignore no-explicit-any
  ): Promise<{ status: number; body: any; headers: Headers }>;
  /**
   * Stops the whole application as a shutdown would and starts it again on the same data
   * directory, database and port (ctx is the new one afterwards).
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** start the scheduler, pollers, queue, writer and health monitor as main.ts does */
  pipeline?: boolean;
}

export async function startTestServer(
  backend: Backend,
  env: Record<string, string> = {},
  opts: TestServerOptions = {},
): Promise<TestServer> {
  const dataDir = await Deno.makeTempDir({ prefix: "nmslite-test-" });
  // The plugin directory an administrator filled: exec plugins may name "echo".
  await installPlugins(`${dataDir}/plugins`, { echo: "/bin/echo" });
  let scratch: ScratchDatabase | undefined;
  if (backend === "postgres") scratch = await createScratchDatabase();
  const config = loadConfig([], {
    NMSLITE_DATA_DIR: dataDir,
    NMSLITE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    NMSLITE_LOG_LEVEL: "error",
    ...(scratch ? { DATABASE_URL: scratch.url } : {}),
    ...env,
  });
  // The product's own listener (lib/web/serve.ts), configured as main.ts configures it, so
  // the tests go through its accept loop, timeouts and compression.
  const boot = async (port: number) => {
    const ctx = await compose(config, {
      monitoring: opts.pipeline,
      workers: WORKER_URLS,
      queuePath: `${dataDir}/queue.kv`,
    });
    const app = createApp(ctx, { bodyLimitBytes: config.server.body_limit_bytes });
    const server = serve({
      hostname: "127.0.0.1",
      port,
      headerTimeoutMs: config.server.header_timeout_ms,
      idleTimeoutMs: config.server.idle_timeout_ms,
      maxConnections: config.server.max_connections,
    }, app.fetch);
    return { ctx, server };
  };
  let running = await boot(0);
  const port = running.server.addr.port;
  const url = `http://127.0.0.1:${port}`;
  const api = `${url}/api/v1`;
  const call: TestServer["call"] = async (method, path, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: BodyInit | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    const res = await fetch(`${api}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch { /* not JSON: keep the text */ }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  return {
    url,
    api,
    get ctx() {
      return running.ctx;
    },
    scratch,
    dataDir,
    call,
    async login(username = "admin", password = ADMIN_PASSWORD) {
      const res = await call("POST", "/auth/login", { body: { username, password } });
      if (res.status !== 200) {
        throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
      }
      return res.body.data.access_token;
    },
    async restart() {
      await running.server.shutdown();
      await running.ctx.close();
      running = await boot(port);
    },
    async close() {
      await running.server.shutdown();
      await running.ctx.close();
      await scratch?.drop();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}
