/**
 * Where the Workers' modules are, for the composition root to hand down: lib/ starts Workers
 * from these URLs and never names a file under workers/ itself.
 */
import type { WorkerUrls } from "../lib/pipeline/pipeline.ts";

export const WORKER_URLS: WorkerUrls = {
  scheduler: new URL("./scheduler.ts", import.meta.url).href,
  poller: new URL("./poller.ts", import.meta.url).href,
};
