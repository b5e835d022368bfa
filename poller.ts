/**
 * A poller node: `NMSLITE_CENTRAL_URL=https://… NMSLITE_ENROLMENT_TOKEN=… deno task poller`.
 *
 *   NMSLITE_CENTRAL_URL           the central (https; http only on loopback)
 *   NMSLITE_ENROLMENT_TOKEN       the one-time token from the central (first start only)
 *   NMSLITE_CENTRAL_CA_FILE       PEM to trust for the central's certificate (private CA)
 *   NMSLITE_CENTRAL_FINGERPRINT   or: the SHA-256 of the central's certificate, pinned
 *   NMSLITE_DATA_DIR              the node's credential and result buffer (default ./data)
 *   NMSLITE_NODE_LISTEN           /health and /metrics (default 127.0.0.1:9464)
 *   NMSLITE_NODE_BUFFER_BATCHES   batches kept while the central is away (default 100000)
 *   and the polling settings of the all-in-one (NMSLITE_POLLERS, NMSLITE_POLL_TIMEOUT, …).
 */
import { getLogger } from "@logtape/logtape";
import { ConfigError, loadConfig, pluginDirOf } from "./lib/config.ts";
import { setupLogging, stopLogging } from "./lib/log.ts";
import { PollerNode } from "./lib/node/poller_node.ts";
import { WORKER_URLS } from "./workers/urls.ts";
import { fdBudgetForNode, raiseAndLogOpenFilesLimit } from "./lib/os/fd_limit.ts";
import { configureConnectionBudget } from "./lib/winrm/budget.ts";

const log = getLogger(["nmslite", "node"]);

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  let config;
  try {
    config = loadConfig(Deno.args, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`nmslite poller: ${err.message}`);
      return 2;
    }
    throw err;
  }
  const central = env.NMSLITE_CENTRAL_URL;
  if (!central) {
    console.error("nmslite poller: NMSLITE_CENTRAL_URL is required");
    return 2;
  }
  const [hostname, port] = (env.NMSLITE_NODE_LISTEN ?? "127.0.0.1:9464").split(/:(?=\d+$)/);
  await setupLogging(config.log.level);
  raiseAndLogOpenFilesLimit();
  // descriptors shared out as in the all-in-one: past the budget a poll reconnects, never fails
  const fd = fdBudgetForNode(config.polling.pollers);
  configureConnectionBudget(fd.main);
  let node: PollerNode;
  try {
    node = await PollerNode.start({
      centralUrl: central,
      enrolmentToken: env.NMSLITE_ENROLMENT_TOKEN || undefined,
      caPem: env.NMSLITE_CENTRAL_CA_FILE
        ? await Deno.readTextFile(env.NMSLITE_CENTRAL_CA_FILE)
        : undefined,
      fingerprint: env.NMSLITE_CENTRAL_FINGERPRINT || undefined,
      dataDir: config.data_dir,
      listen: { hostname, port: Number(port) },
      maxBufferedBatches: Number(env.NMSLITE_NODE_BUFFER_BATCHES ?? 100_000),
      pipeline: {
        pollers: config.polling.pollers,
        concurrency: config.polling.concurrency,
        perHostLimit: config.polling.per_host_limit,
        pollTimeoutMs: config.polling.timeout_ms,
        retries: config.polling.retries,
        retryBackoffMs: config.polling.retry_backoff_ms,
        winrmPipelining: config.polling.winrm_pipelining,
        kerberosAllowRc4: config.kerberos.allow_rc4,
        pluginDir: pluginDirOf(config),
        winrmConnections: fd.perPoller,
      },
    }, WORKER_URLS);
  } catch (err) {
    log.error("cannot start: {message}", { message: (err as Error).message });
    console.error(`nmslite poller: ${(err as Error).message}`);
    await stopLogging();
    return 1;
  }
  console.error(
    `NMSlite poller node ${node.identity.name} (site ${node.identity.site_id}) ` +
      `health on http://${hostname}:${node.port}/health`,
  );
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      Deno.addSignalListener(signal, () => resolve());
    }
  });
  log.info("shutting down");
  await node.stop();
  await stopLogging();
  return 0;
}

if (import.meta.main) Deno.exit(await main());
