/**
 * The node's buffer of result batches on disk (a Deno KV file in its data dir). The poller
 * Workers enqueue batches into the KV queue as in the all-in-one; each delivery is moved here
 * under an ordered key, so batches leave in the order they were made, survive a restart, and
 * wait out a central that is away. The buffer is bounded: past `maxBatches` the oldest are
 * dropped (and counted). Batches the central can never accept go to a dead-letter key space.
 */
import { getLogger } from "@logtape/logtape";
import { DEAD_LETTER_PREFIX, decodeBatch, ResultBatchFormatError } from "../queue/results_queue.ts";
import type { ResultBatch } from "../messages.ts";

const log = getLogger(["nmslite", "node", "buffer"]);
const BUFFER = "buffer";
const DEAD = "node_dead_letter";

export interface BufferedBatch {
  key: Deno.KvKey;
  batch: ResultBatch;
  bytes: number;
}

export class ResultBuffer {
  /** batches waiting, dropped for room, dead-lettered, taken in from the Workers */
  readonly counts = { buffered: 0, dropped: 0, deadLetters: 0, received: 0 };
  private seq = 0;
  private waiters: (() => void)[] = [];

  private constructor(private readonly kv: Deno.Kv, private readonly maxBatches: number) {}

  static async open(path: string, maxBatches: number): Promise<ResultBuffer> {
    const kv = await Deno.openKv(path);
    const buffer = new ResultBuffer(kv, maxBatches);
    for await (const _ of kv.list({ prefix: [BUFFER] })) buffer.counts.buffered++;
    for await (const _ of kv.list({ prefix: [DEAD] })) buffer.counts.deadLetters++;
    const dropped = await kv.get<number>(["meta", "dropped"]);
    buffer.counts.dropped = dropped.value ?? 0;
    kv.listenQueue(async (message: unknown) => {
      let batch;
      try {
        batch = decodeBatch(message);
      } catch (err) {
        if (!(err instanceof ResultBatchFormatError)) throw err;
        await kv.set([...DEAD_LETTER_PREFIX, `malformed-${crypto.randomUUID()}`], message);
        return;
      }
      await buffer.append(batch);
    });
    if (buffer.counts.buffered) {
      log.info("{count} result batches buffered from before the restart", {
        count: buffer.counts.buffered,
      });
    }
    return buffer;
  }

  /** Adds at the end; drops the oldest when full. */
  async append(batch: ResultBatch): Promise<void> {
    // time first so order survives a restart; the counter orders batches of one millisecond
    const key = [BUFFER, Date.now(), this.seq++, batch.batchId];
    await this.kv.set(key, batch);
    this.counts.buffered++;
    this.counts.received++;
    if (this.counts.buffered > this.maxBatches) {
      await this.dropOldest(this.counts.buffered - this.maxBatches);
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** The oldest batches, up to `maxBatches` and about `maxBytes` (at least one). */
  async peek(maxBatches: number, maxBytes: number): Promise<BufferedBatch[]> {
    const out: BufferedBatch[] = [];
    let bytes = 0;
    for await (const e of this.kv.list<ResultBatch>({ prefix: [BUFFER] }, { limit: maxBatches })) {
      const size = JSON.stringify(e.value).length;
      if (out.length && bytes + size > maxBytes) break;
      out.push({ key: e.key, batch: e.value, bytes: size });
      bytes += size;
    }
    return out;
  }

  /** Resolves when something was appended, or after `ms`. */
  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The central committed these: forget them. */
  async remove(items: BufferedBatch[]): Promise<void> {
    const op = this.kv.atomic();
    for (const i of items) op.delete(i.key);
    await op.commit();
    this.counts.buffered = Math.max(0, this.counts.buffered - items.length);
  }

  /** The central can never accept these: keep them aside for an operator, with the reason. */
  async deadLetter(items: BufferedBatch[], reason: string): Promise<void> {
    const op = this.kv.atomic();
    for (const i of items) {
      op.delete(i.key);
      op.set([DEAD, i.batch.batchId], { reason, at: new Date().toISOString(), batch: i.batch });
    }
    await op.commit();
    this.counts.buffered = Math.max(0, this.counts.buffered - items.length);
    this.counts.deadLetters += items.length;
  }

  close(): void {
    for (const w of this.waiters.splice(0)) w();
    this.kv.close();
  }

  private async dropOldest(n: number): Promise<void> {
    const op = this.kv.atomic();
    let dropped = 0;
    for await (const e of this.kv.list({ prefix: [BUFFER] }, { limit: n })) {
      op.delete(e.key);
      dropped++;
    }
    this.counts.dropped += dropped;
    op.set(["meta", "dropped"], this.counts.dropped);
    await op.commit();
    this.counts.buffered -= dropped;
    log.warn("buffer full: dropped the {count} oldest result batches", { count: dropped });
  }
}
