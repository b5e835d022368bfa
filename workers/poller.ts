/**
 * A poller Worker: a thin shell around lib/polling. Jobs arrive from the main isolate; the
 * decrypted credential is asked for once and cached for its TTL; results go into the Deno KV
 * queue in batches, where the writer in the main isolate commits them.
 */
/// <reference lib="deno.worker" />
import type {
  Credential,
  PluginSpec,
  PollerCommand,
  PollerEvent,
  PollJob,
} from "../lib/messages.ts";
import { DEFAULT_QUEUE_BURST_MS, defaultSlowPool, Poller } from "../lib/polling/poller.ts";
import { CredentialCache } from "../lib/polling/credential_cache.ts";
import { ResultBatcher } from "../lib/polling/result_batcher.ts";
import { collectMetrics } from "../lib/collectors/registry.ts";
import { configureConnectionBudget, connectionBudget } from "../lib/winrm/budget.ts";
import { openResultsQueue, packBatches, type ResultsQueue } from "../lib/queue/results_queue.ts";

let poller: Poller | undefined;
let batcher: ResultBatcher | undefined;
let queue: ResultsQueue | undefined;
let credentials: CredentialCache | undefined;
let workerId = 0;
let nextRequest = 1;
/** jobs that arrived while `init` was still opening the queue: submitted once it has */
const early: Extract<PollerCommand, { type: "poll" }>[] = [];
const pendingCredentials = new Map<
  number,
  { resolve(c: Credential): void; reject(e: Error): void }
>();

class CredentialUnavailableError extends Error {
  override name = "CredentialUnavailableError";
  readonly kind = "credential";
}

function post(event: PollerEvent): void {
  self.postMessage(event);
}

/** Monitors whose poll left this Worker since the last report (PollerEvent "finished"). */
let finished: number[] = [];
let finishedTimer: ReturnType<typeof setTimeout> | undefined;
const FINISHED_REPORT_MS = 50;

function left(monitorId: number): void {
  finished.push(monitorId);
  finishedTimer ??= setTimeout(reportFinished, FINISHED_REPORT_MS);
}

function reportFinished(): void {
  clearTimeout(finishedTimer);
  finishedTimer = undefined;
  if (!finished.length) return;
  post({ type: "finished", monitorIds: finished });
  finished = [];
}

function submit(job: PollJob, plugin: PluginSpec): void {
  if (poller!.submit(job, plugin) !== "queued") left(job.monitorId);
}

function requestCredential(credentialProfileId: number): Promise<Credential> {
  const requestId = nextRequest++;
  return new Promise((resolve, reject) => {
    pendingCredentials.set(requestId, { resolve, reject });
    post({ type: "credential-request", requestId, credentialProfileId });
  });
}

self.onmessage = async (e: MessageEvent<PollerCommand>) => {
  const cmd = e.data;
  switch (cmd.type) {
    case "init": {
      workerId = cmd.workerId;
      if (cmd.winrmConnections) configureConnectionBudget(cmd.winrmConnections);
      queue = await openResultsQueue(cmd.kvPath);
      // Half a second of results per message: each enqueue is a durable write (a disk flush)
      // in the queue's store, so fewer, fuller messages cost far less than many small ones.
      // (A poller node asks for less: lib/node/node_pipeline.ts.)
      batcher = new ResultBatcher({
        maxDelayMs: cmd.resultDelayMs ?? 500,
        maxItems: 1_000,
        pack: packBatches,
        enqueue: (batch) => queue!.enqueue(batch),
        onError: (err) =>
          console.error(`poller ${workerId}: enqueue failed: ${(err as Error).message}`),
      });
      credentials = new CredentialCache(cmd.credentialTtlMs, requestCredential);
      poller = new Poller({
        concurrency: cmd.concurrency,
        perHostLimit: cmd.perHostLimit,
        pollTimeoutMs: cmd.pollTimeoutMs,
        retries: cmd.retries,
        backoffBaseMs: cmd.retryBackoffMs,
        maxQueued: cmd.maxQueued,
        burstMs: cmd.queueBurstMs ?? DEFAULT_QUEUE_BURST_MS,
        // slow polls hold connections: the pool stays within this Worker's budget
        slowPool: defaultSlowPool(cmd.concurrency, cmd.winrmConnections),
        getCredential: (id) => credentials!.get(id),
        collect: (job, plugin, credential, signal) =>
          collectMetrics(job, plugin, credential, signal, {
            pluginDir: cmd.pluginDir,
            winrm: {
              pipelining: cmd.winrmPipelining,
              kerberos: { allowRc4: cmd.kerberosAllowRc4 ?? false },
            },
          }),
        onSample: (s) => batcher!.addSample(s),
        onOutcome: (o) => {
          batcher!.addOutcome(o);
          left(o.monitorId);
        },
        onDropped: (job) => left(job.monitorId),
      });
      for (const job of early.splice(0)) submit(job.job, job.plugin);
      post({ type: "stats", stats: stats() });
      break;
    }
    case "poll":
      if (poller) submit(cmd.job, cmd.plugin);
      else early.push(cmd);
      break;
    case "polls":
      for (const p of cmd.polls) {
        if (poller) submit(p.job, p.plugin);
        else early.push({ type: "poll", ...p });
      }
      break;
    case "credential": {
      const waiter = pendingCredentials.get(cmd.requestId);
      pendingCredentials.delete(cmd.requestId);
      if (!waiter) break;
      if (cmd.credential) waiter.resolve(cmd.credential);
      else waiter.reject(new CredentialUnavailableError(cmd.error ?? "credential unavailable"));
      break;
    }
    case "credential-changed":
      credentials?.invalidate(cmd.credentialProfileId);
      break;
    case "forget": {
      const ids = new Set(cmd.monitorIds);
      for (let i = early.length - 1; i >= 0; i--) {
        if (ids.has(early[i].job.monitorId)) left(early.splice(i, 1)[0].job.monitorId);
      }
      for (const job of poller?.forget(ids) ?? []) left(job.monitorId);
      break;
    }
    case "stats":
      post({ type: "stats", stats: stats() });
      break;
    case "stop":
      // finish what is running, put every result into the queue, then say so
      if (poller) {
        await poller.idle();
        poller.stop();
      }
      await batcher?.flush();
      reportFinished();
      queue?.close();
      post({ type: "stats", stats: stats() });
      post({ type: "stopped" });
      self.close();
      break;
  }
};

/** the load integral and the time at the previous report, for the average since then */
let reported = { loadMs: 0, at: Date.now() };

/**
 * Polls queued or running: integrated since the start (poll-ms), and averaged since the previous
 * report (every 5 s: lib/pipeline).
 */
function load(): { loadMs: number; loadAverage: number } {
  const at = Date.now();
  const loadMs = poller?.loadMs ?? 0;
  const loadAverage = at > reported.at ? (loadMs - reported.loadMs) / (at - reported.at) : 0;
  reported = { loadMs, at };
  return { loadMs, loadAverage };
}

function stats() {
  return {
    workerId,
    inFlight: poller?.active ?? 0,
    queued: poller?.queued ?? 0,
    load: poller?.load ?? 0,
    ...load(),
    concurrency: poller?.concurrency ?? 0,
    maxQueued: poller?.maxQueued ?? 0,
    skipped: { ...(poller?.stats.skipped ?? { busy: 0, queue_full: 0 }) },
    polls: {
      ok: poller?.stats.ok ?? 0,
      failed: poller?.stats.failed ?? 0,
      retried: poller?.stats.retried ?? 0,
    },
    durationBuckets: poller?.stats.duration.buckets ?? {},
    durationSumMs: poller?.stats.duration.sum ?? 0,
    enqueuedBatches: batcher?.enqueuedBatches ?? 0,
    failedByClass: poller?.stats.failedByClass,
    slow: poller?.slow,
    connections: connectionBudget().stats(),
  };
}
