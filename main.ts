/**
 * NMSlite: `deno task start`. Config -> logging -> the composed system (lib/compose.ts, given
 * the Worker URLs) -> the HTTP app on top -> HTTP(S); shuts down gracefully on SIGINT / SIGTERM.
 */
import { getLogger } from "@logtape/logtape";
import { ConfigError, loadConfig } from "./lib/config.ts";
import { setupLogging, stopLogging } from "./lib/log.ts";
import { StartupError } from "./lib/bootstrap.ts";
import { compose } from "./lib/compose.ts";
import { WORKER_URLS } from "./workers/urls.ts";
import { loadTlsMaterial } from "./lib/tls_certificate.ts";
import { createApp } from "./routes/app.ts";
import { serve } from "./lib/web/serve.ts";
import { DatabaseUnavailableError } from "./lib/db/driver.ts";
import { MasterKeyError, SecretDecryptionError } from "./lib/crypto/secrets.ts";
import { MigrationError } from "./lib/db/migrate.ts";
import { raiseAndLogOpenFilesLimit } from "./lib/os/fd_limit.ts";

const log = getLogger(["nmslite", "main"]);

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig(Deno.args, Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`nmslite: ${err.message}`);
      return 2;
    }
    throw err;
  }
  await setupLogging(config.log.level);
  raiseAndLogOpenFilesLimit();
  let system;
  try {
    // The central role runs no Workers that touch hosts: its sites are polled by poller nodes.
    const monitoring = config.polling.enabled && config.role !== "central";
    system = await compose(config, { monitoring, workers: WORKER_URLS });
  } catch (err) {
    if (
      err instanceof StartupError || err instanceof DatabaseUnavailableError ||
      err instanceof MasterKeyError || err instanceof SecretDecryptionError ||
      err instanceof MigrationError
    ) {
      log.error("cannot start: {message}", { message: err.message });
      console.error(`nmslite: ${err.message}`);
      await stopLogging();
      return 1;
    }
    throw err;
  }
  const app = createApp(system, { bodyLimitBytes: config.server.body_limit_bytes });
  const { host, port, plain_http } = config.server;
  const tls = plain_http ? undefined : await loadTlsMaterial({
    certFile: config.server.cert_file,
    keyFile: config.server.key_file,
    dataDir: config.data_dir,
  });
  const server = serve({
    hostname: host,
    port,
    ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}),
    headerTimeoutMs: config.server.header_timeout_ms,
    idleTimeoutMs: config.server.idle_timeout_ms,
    maxConnections: config.server.max_connections,
    maxConnectionsPerAddress: config.server.max_connections_per_ip,
    uncappedAddresses: config.server.trusted_proxies,
    onWarning: (message) => log.warn("{message}", { message }),
    onListen: ({ hostname, port }) => {
      const url = `${tls ? "https" : "http"}://${
        hostname === "0.0.0.0" ? "localhost" : hostname
      }:${port}`;
      log.info("listening on {url} (database: {database})", { url, database: system.db.kind });
      if (tls) {
        log.info("TLS certificate SHA-256 fingerprint {fingerprint}", {
          fingerprint: tls.fingerprint256,
          created: tls.created,
        });
      }
      console.error(`NMSlite ${system.version} listening on ${url}`);
      if (tls) console.error(`TLS certificate SHA-256 fingerprint: ${tls.fingerprint256}`);
    },
  }, app.fetch);

  const stop = new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve());
    }
  });
  await stop;
  log.info("shutting down");
  system.nodeHub.stop(); // the nodes' channels end now, so the server need not wait for them
  await server.shutdown();
  await system.close();
  await stopLogging();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
