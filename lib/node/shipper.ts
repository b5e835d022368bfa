/**
 * Ships buffered result batches to the central's /ingest, oldest first, and removes them only
 * once the central answered that they are committed. What the central refuses for good (a
 * malformed batch, a monitor of another site, a timestamp far in the future, a batch too large)
 * is dead-lettered, one batch at a time so a bad batch does not take good ones with it; what
 * it cannot take now (unreachable, 5xx, 429, a revoked credential) stays and is tried again.
 */
import { getLogger } from "@logtape/logtape";
import { CentralRefusal } from "./central_client.ts";
import type { ResultBuffer } from "./result_buffer.ts";
import { type HeartbeatRequest, type IngestResponse, NODE_API } from "../nodes/protocol.ts";
import type { BufferedBatch } from "./result_buffer.ts";

const log = getLogger(["nmslite", "node", "ship"]);

/** 4xx statuses that retrying the same batch can never fix */
const FOREVER = new Set([400, 403, 404, 413, 422]);

export interface Poster {
  post<T>(path: string, body: unknown, signal?: AbortSignal, opts?: { gzip?: boolean }): Promise<T>;
}

export class Shipper {
  readonly counts = {
    /** ingest requests the central acknowledged */
    shippedRequests: 0,
    shippedBatches: 0,
    shippedRows: 0,
    failures: 0,
    refused: {} as Record<string, number>,
  };
  /** the last failure to reach the central, or null while shipping works */
  lastError: string | null = null;
  /** when (epoch ms) the central last acknowledged a request that carried the heartbeat */
  reportedAt = 0;
  private running = false;
  private loop?: Promise<void>;
  /** ends a gathering wait early (stop) */
  private wake?: () => void;

  constructor(
    private readonly central: Poster,
    private readonly buffer: ResultBuffer,
    private readonly opts: {
      maxBatchesPerRequest: number;
      maxBytesPerRequest: number;
      /**
       * A request that would not be full waits until its oldest poll is this old (from its due
       * time), so each request carries as many rows as the poll-to-row budget allows; rows
       * older than this, a backlog and full requests go at once. 0 (the default): no waiting.
       */
      shipAtAgeMs?: number;
      /** the node's heartbeat, sent along with each request (the central records it) */
      heartbeat?: () => HeartbeatRequest | undefined;
    },
    private readonly onRevoked: (code: string) => void,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  private gather(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    let backoff = 250;
    while (this.running) {
      let items = await this.peek();
      if (!items.length) {
        await this.buffer.wait(500);
        continue;
      }
      // A short request is the live trickle: it gathers until its oldest poll has spent the
      // budget, so the central commits many rows per request (its cost is per request more
      // than per row: bench:central). A backlog (full requests) is sent back to back.
      const wait = this.opts.shipAtAgeMs && !this.full(items)
        ? oldestDueAt(items) + this.opts.shipAtAgeMs - Date.now()
        : 0;
      if (wait > 0) {
        await this.gather(Math.min(wait, this.opts.shipAtAgeMs!));
        if (!this.running) break;
        items = await this.peek();
      }
      const outcome = await this.send(items);
      if (outcome === "ok") {
        backoff = 250;
        continue;
      }
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  private peek(): Promise<BufferedBatch[]> {
    return this.buffer.peek(this.opts.maxBatchesPerRequest, this.opts.maxBytesPerRequest);
  }

  /** Whether a request of these would be cut short by a limit (more may be waiting). */
  private full(items: BufferedBatch[]): boolean {
    if (items.length >= this.opts.maxBatchesPerRequest) return true;
    let bytes = 0;
    for (const i of items) bytes += i.bytes;
    return bytes >= this.opts.maxBytesPerRequest / 2;
  }

  /** "ok" when the batches left the buffer (committed or dead-lettered), else "retry". */
  private async send(items: BufferedBatch[]): Promise<"ok" | "retry"> {
    try {
      const heartbeat = this.opts.heartbeat?.();
      const res = await this.central.post<IngestResponse>(
        NODE_API.ingest,
        heartbeat
          ? { batches: items.map((i) => i.batch), heartbeat }
          : { batches: items.map((i) => i.batch) },
        AbortSignal.timeout(60_000),
        { gzip: true },
      );
      if (heartbeat) this.reportedAt = Date.now();
      await this.buffer.remove(items);
      this.counts.shippedRequests++;
      this.counts.shippedBatches += items.length;
      this.counts.shippedRows += res.rows;
      if (this.lastError) log.info("the central takes results again", {});
      this.lastError = null;
      return "ok";
    } catch (err) {
      this.counts.failures++;
      if (err instanceof CentralRefusal) {
        this.counts.refused[err.code] = (this.counts.refused[err.code] ?? 0) + 1;
        if (err.status === 401) {
          this.lastError = `${err.code}: ${err.message}`;
          this.onRevoked(err.code);
          return "retry";
        }
        if (FOREVER.has(err.status)) {
          if (items.length > 1) {
            // Find the bad one: send each alone.
            for (const item of items) await this.send([item]);
            return "ok";
          }
          log.error(
            "the central refused result batch {batchId} for good ({code}: {message}); " +
              "it is dead-lettered",
            {
              batchId: items[0].batch.batchId,
              code: err.code,
              message: err.message,
            },
          );
          await this.buffer.deadLetter(items, `${err.code}: ${err.message}`);
          return "ok";
        }
      }
      const message = (err as Error).message;
      if (this.lastError !== message) {
        log.warn("cannot ship results to the central ({message}); they stay buffered", { message });
      }
      this.lastError = message;
      return "retry";
    }
  }
}

/** The earliest due time of the polls in `items`; 0 (ship now) when none says. */
export function oldestDueAt(items: BufferedBatch[]): number {
  let oldest = Infinity;
  for (const { batch } of items) {
    for (const o of batch.outcomes) if (o.dueAt < oldest) oldest = o.dueAt;
  }
  return Number.isFinite(oldest) ? oldest : 0;
}
