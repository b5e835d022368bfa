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

export function encodeBatch(batch: ResultBatch): Uint8Array {
  return encoder.encode(JSON.stringify(batch));
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
 * Splits results into as few messages as fit MAX_MESSAGE_BYTES. A single sample too large
 * on its own (hundreds of long-named interfaces) keeps its totals and loses its breakdowns.
 */
export function packBatches(samples: MetricSample[], outcomes: PollOutcome[]): ResultBatch[] {
  const overhead = 80; // {"v":1,"batchId":"<uuid>","samples":[],"outcomes":[]}
  const batches: ResultBatch[] = [];
  let current: ResultBatch = newBatch();
  let size = overhead;
  const push = (kind: "samples" | "outcomes", item: MetricSample | PollOutcome) => {
    let bytes = encoder.encode(JSON.stringify(item)).length + 1;
    if (kind === "samples" && bytes + overhead > MAX_MESSAGE_BYTES) {
      item = { ...(item as MetricSample), volumes: null, interfaces: null };
      bytes = encoder.encode(JSON.stringify(item)).length + 1;
    }
    if (kind === "samples" && bytes + overhead > MAX_MESSAGE_BYTES) {
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
      bytes = encoder.encode(JSON.stringify(item)).length + 1;
    }
    if (size + bytes > MAX_MESSAGE_BYTES) {
      batches.push(current);
      current = newBatch();
      size = overhead;
    }
    (current[kind] as (MetricSample | PollOutcome)[]).push(item);
    size += bytes;
  };
  for (const s of samples) push("samples", s);
  for (const o of outcomes) push("outcomes", o);
  if (current.samples.length || current.outcomes.length) batches.push(current);
  return batches;
}

function newBatch(): ResultBatch {
  return { v: 1, batchId: crypto.randomUUID(), samples: [], outcomes: [] };
}
