/**
 * The durable hand-off between poller Workers and the metrics writer: a Deno KV queue whose
 * messages each carry many results (KV delivers about 1,000 messages/s, so one message per
 * row would cap the fleet). A message is UTF-8 JSON in a Uint8Array, kept under KV's 64 KiB
 * value limit; what KV cannot deliver after its retries lands under DEAD_LETTER_PREFIX.
 */
import type { MetricSample, PollOutcome, ResultBatch } from "../messages.ts";

export const DEAD_LETTER_PREFIX = ["results_dead_letter"] as const;
/** Room left under KV's 65,536-byte value limit for the serializer's own framing. */
export const MAX_MESSAGE_BYTES = 60_000;
/** Redelivery after a writer failure; the writer itself waits out short database outages. */
export const REDELIVERY_BACKOFF_MS = [1_000, 5_000, 30_000, 60_000, 300_000];

export class ResultBatchFormatError extends Error {
  override name = "ResultBatchFormatError";
}

export interface ResultsQueue {
  enqueue(batch: ResultBatch): Promise<void>;
  close(): void;
}

/** Opens the queue's KV store (a file, or Deno's default location when path is null). */
export async function openResultsQueue(path: string | null): Promise<ResultsQueue> {
  const kv = await Deno.openKv(path ?? undefined);
  return {
    async enqueue(batch) {
      const res = await kv.enqueue(encodeBatch(batch), {
        keysIfUndelivered: [[...DEAD_LETTER_PREFIX, batch.batchId]],
        backoffSchedule: REDELIVERY_BACKOFF_MS,
      });
      if (!res.ok) throw new Error("the results queue refused a message");
    },
    close: () => kv.close(),
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * What packBatches already wrote for a batch: its message, byte for byte what encodeBatch
 * would make of it (each result is serialized once, to size it and to send it).
 */
const packed = new WeakMap<ResultBatch, Uint8Array>();

export function encodeBatch(batch: ResultBatch): Uint8Array {
  return packed.get(batch) ?? encoder.encode(JSON.stringify(batch));
}

export function decodeBatch(message: unknown): ResultBatch {
  if (!(message instanceof Uint8Array)) {
    throw new ResultBatchFormatError("queue message is not an encoded result batch");
  }
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(message));
  } catch {
    throw new ResultBatchFormatError("queue message is not valid JSON");
  }
  const b = value as Partial<ResultBatch>;
  if (
    b?.v !== 1 || typeof b.batchId !== "string" || !Array.isArray(b.samples) ||
    !Array.isArray(b.outcomes)
  ) {
    throw new ResultBatchFormatError("queue message is not a version 1 result batch");
  }
  return b as ResultBatch;
}

/**
 * Splits results into as few messages as fit MAX_MESSAGE_BYTES, writing each message as it
 * goes (encodeBatch hands it out). A single sample too large on its own (hundreds of
 * long-named interfaces) keeps its totals and loses its breakdowns.
 */
export function packBatches(samples: MetricSample[], outcomes: PollOutcome[]): ResultBatch[] {
  const batches: ResultBatch[] = [];
  const out = new MessageWriter();
  let current: ResultBatch | null = null;
  let kind: "samples" | "outcomes" = "samples";
  const finish = () => {
    if (!current) return;
    packed.set(current, out.end());
    batches.push(current);
    current = null;
  };
  const push = (item: MetricSample | PollOutcome) => {
    let json = JSON.stringify(item);
    if (kind === "samples" && !out.fitsAlone(json)) {
      item = { ...(item as MetricSample), volumes: null, interfaces: null };
      json = JSON.stringify(item);
    }
    if (kind === "samples" && !out.fitsAlone(json)) {
      // extended/full detail too big for one message: keep the metrics, say what was left out
      const s = item as MetricSample;
      const left = (["events", "services", "processes"] as const).filter((k) => s[k]?.length);
      item = {
        ...s,
        events: undefined,
        services: undefined,
        processes: undefined,
        partial: [
          ...(s.partial ?? []),
          ...left.map((part) => ({ part, class: "", reason: "too big for one queue message" })),
        ],
      };
      json = JSON.stringify(item);
    }
    if (current && !out.add(json)) finish();
    if (!current) {
      current = newBatch();
      out.begin(current, kind);
      out.add(json);
    }
    (current[kind] as (MetricSample | PollOutcome)[]).push(item);
  };
  for (const s of samples) push(s);
  if (current) out.next();
  kind = "outcomes";
  for (const o of outcomes) push(o);
  finish();
  return batches;
}

/**
 * One message at a time, UTF-8 straight into a scratch buffer: the text JSON.stringify gives
 * the whole batch, `{"v":1,"batchId":"…","samples":[…],"outcomes":[…]}`.
 */
class MessageWriter {
  static #scratch = new Uint8Array(MAX_MESSAGE_BYTES);
  #at = 0;
  /** no item yet in the array being written */
  #first = true;
  #kind: "samples" | "outcomes" = "samples";

  begin(batch: ResultBatch, kind: "samples" | "outcomes") {
    this.#at = 0;
    this.#put(`{"v":1,"batchId":${JSON.stringify(batch.batchId)},"samples":[`);
    this.#kind = "samples";
    this.#first = true;
    if (kind === "outcomes") this.next();
  }

  /** The samples are written; the outcomes follow. */
  next() {
    this.#put(`],"outcomes":[`);
    this.#kind = "outcomes";
    this.#first = true;
  }

  /** Whether `json` fits a message of its own. */
  fitsAlone(json: string): boolean {
    // a UTF-8 byte is at most 3 per UTF-16 unit; the exact count only when that is in doubt
    const most = json.length * 3;
    const framing = 120; // the opening, the brackets between and the end
    return most + framing <= MAX_MESSAGE_BYTES ||
      encoder.encode(json).length + framing <= MAX_MESSAGE_BYTES;
  }

  /** Appends one result; false (nothing written) when the message would outgrow its limit. */
  add(json: string): boolean {
    const start = this.#at;
    if (!this.#first && !this.#put(",")) return false;
    // room kept for the closing `],"outcomes":[]}`
    if (!this.#put(json, MAX_MESSAGE_BYTES - 20)) {
      this.#at = start;
      return false;
    }
    this.#first = false;
    return true;
  }

  /** The finished message, copied out of the scratch buffer. */
  end(): Uint8Array {
    if (this.#kind === "samples") this.next();
    this.#put("]}");
    return MessageWriter.#scratch.slice(0, this.#at);
  }

  #put(text: string, limit = MAX_MESSAGE_BYTES): boolean {
    const room = MessageWriter.#scratch.subarray(this.#at, limit);
    const { read, written } = encoder.encodeInto(text, room);
    if (read < text.length) return false;
    this.#at += written;
    return true;
  }
}
function newBatch(): ResultBatch {
  return { v: 1, batchId: crypto.randomUUID(), samples: [], outcomes: [] };
}
