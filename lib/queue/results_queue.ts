/**
 * The durable hand-off between poller Workers and the metrics writer: a Deno KV queue whose
 * messages each carry many results (KV delivers about 1,000 messages/s, so one message per
 * row would cap the fleet). A message is UTF-8 JSON in a Uint8Array, kept under KV's 64 KiB
 * value limit; what KV cannot deliver after its retries lands under DEAD_LETTER_PREFIX.
 */
import {
  type InterfaceSample,
  type MetricSample,
  type PollOutcome,
  type ResultBatch,
  SAMPLE_NUMBER_FIELDS,
  type VolumeSample,
} from "../messages.ts";

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

/**
 * The message format packBatches and encodeBatch write (version 2): the batch positionally,
 * `{"v":2,"batchId":"…","s":[S,…],"o":[O,…]}`, a little under half the bytes of the batch's
 * own JSON (the keys were most of a standard sample's text), so a poller Worker's burst of
 * results goes in half as many messages, each a durable write in the queue's store.
 *
 *   S  [monitorId, ts, cpuPercent, memoryTotal, memoryUsed, diskTotal, diskUsed, netSentBps,
 *       netRecvBps, netPacketsSent, netPacketsRecv, netErrors, netDiscards, netUtilization,
 *       processCount, collectionMs, volumes, interfaces, rest]
 *      volumes     null | [[name, total, used], …]
 *      interfaces  null | [[name, sentBps, recvBps, packetsSent, packetsRecv, errors,
 *                  discards, bandwidthBps, utilization], …]
 *      rest        0 when the sample has nothing more (a standard poll), else an object with
 *                  its other fields as they are (extended and full profiles, `partial`)
 *   O  [monitorId, deviceId, ok (1|0), attempts, attemptedAt, dueAt, durationMs] and, for a
 *      failed poll, error, errorKind, errorClass
 *
 * decodeBatch gives back the same ResultBatch, and still reads version 1 (the batch's own
 * JSON), which a queue may hold from before an upgrade.
 */
export const MESSAGE_VERSION = 2;

/** The fields S holds in its places; anything else of a sample goes in `rest`. */
const SAMPLE_FIELDS = new Set<string>([
  "monitorId",
  "ts",
  ...SAMPLE_NUMBER_FIELDS,
  "volumes",
  "interfaces",
]);
const S_LENGTH = SAMPLE_FIELDS.size + 1;
const O_LENGTH = 7;

type SampleTuple = unknown[];
type OutcomeTuple = unknown[];

function sampleTuple(s: MetricSample): SampleTuple {
  let rest: Record<string, unknown> | 0 = 0;
  for (const k in s) {
    const v = (s as unknown as Record<string, unknown>)[k];
    if (v === undefined || SAMPLE_FIELDS.has(k)) continue;
    (rest ||= {})[k] = v;
  }
  return [
    s.monitorId,
    s.ts,
    s.cpuPercent,
    s.memoryTotal,
    s.memoryUsed,
    s.diskTotal,
    s.diskUsed,
    s.netSentBps,
    s.netRecvBps,
    s.netPacketsSent,
    s.netPacketsRecv,
    s.netErrors,
    s.netDiscards,
    s.netUtilization,
    s.processCount,
    s.collectionMs,
    s.volumes && s.volumes.map((v) => [v.name, v.total, v.used]),
    s.interfaces && s.interfaces.map((i) => [
      i.name,
      i.sentBps,
      i.recvBps,
      i.packetsSent,
      i.packetsRecv,
      i.errors,
      i.discards,
      i.bandwidthBps,
      i.utilization,
    ]),
    rest,
  ];
}

function outcomeTuple(o: PollOutcome): OutcomeTuple {
  const t: unknown[] = [
    o.monitorId,
    o.deviceId,
    o.ok ? 1 : 0,
    o.attempts,
    o.attemptedAt,
    o.dueAt,
    o.durationMs,
  ];
  if (!o.ok || o.error !== undefined) {
    t.push(o.error ?? null, o.errorKind ?? null, o.errorClass ?? null);
  }
  return t;
}

function malformed(what: string): never {
  throw new ResultBatchFormatError(`queue message has a malformed ${what}`);
}

function fromSampleTuple(t: unknown): MetricSample {
  if (!Array.isArray(t) || t.length !== S_LENGTH) malformed("sample");
  const volumes = t[16] as unknown[][] | null;
  const interfaces = t[17] as unknown[][] | null;
  if (
    typeof t[0] !== "number" || typeof t[1] !== "number" ||
    (volumes !== null && !Array.isArray(volumes)) ||
    (interfaces !== null && !Array.isArray(interfaces))
  ) malformed("sample");
  const s: MetricSample = {
    monitorId: t[0],
    ts: t[1],
    cpuPercent: t[2],
    memoryTotal: t[3],
    memoryUsed: t[4],
    diskTotal: t[5],
    diskUsed: t[6],
    netSentBps: t[7],
    netRecvBps: t[8],
    netPacketsSent: t[9],
    netPacketsRecv: t[10],
    netErrors: t[11],
    netDiscards: t[12],
    netUtilization: t[13],
    processCount: t[14],
    collectionMs: t[15],
    volumes: volumes && volumes.map((v) => {
      if (!Array.isArray(v) || v.length !== 3) malformed("volume");
      return { name: v[0], total: v[1], used: v[2] } as VolumeSample;
    }),
    interfaces: interfaces && interfaces.map((i) => {
      if (!Array.isArray(i) || i.length !== 9) malformed("interface");
      return {
        name: i[0],
        sentBps: i[1],
        recvBps: i[2],
        packetsSent: i[3],
        packetsRecv: i[4],
        errors: i[5],
        discards: i[6],
        bandwidthBps: i[7],
        utilization: i[8],
      } as InterfaceSample;
    }),
  };
  const rest = t[18];
  if (rest !== 0) {
    if (typeof rest !== "object" || rest === null || Array.isArray(rest)) malformed("sample");
    Object.assign(s, rest);
  }
  return s;
}

function fromOutcomeTuple(t: unknown): PollOutcome {
  if (
    !Array.isArray(t) || (t.length !== O_LENGTH && t.length !== O_LENGTH + 3) ||
    typeof t[0] !== "number" || typeof t[1] !== "number"
  ) malformed("outcome");
  const o: PollOutcome = {
    monitorId: t[0],
    deviceId: t[1],
    ok: t[2] === 1,
    attempts: t[3],
    attemptedAt: t[4],
    dueAt: t[5],
    durationMs: t[6],
  };
  if (t.length > O_LENGTH) {
    if (t[7] !== null) o.error = t[7];
    if (t[8] !== null) o.errorKind = t[8];
    if (t[9] !== null) o.errorClass = t[9];
  }
  return o;
}

/** The batch's queue message (version 2); a packed batch's is the one packBatches wrote. */
export function encodeBatch(batch: ResultBatch): Uint8Array {
  const message = packed.get(batch);
  if (message) return message;
  return encoder.encode(
    `{"v":${MESSAGE_VERSION},"batchId":${JSON.stringify(batch.batchId)},"s":${
      JSON.stringify(batch.samples.map(sampleTuple))
    },"o":${JSON.stringify(batch.outcomes.map(outcomeTuple))}}`,
  );
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
  const b = value as Record<string, unknown> | null;
  if (b?.v === MESSAGE_VERSION && typeof b.batchId === "string") {
    if (!Array.isArray(b.s) || !Array.isArray(b.o)) {
      throw new ResultBatchFormatError("queue message is not a version 2 result batch");
    }
    return {
      v: 1,
      batchId: b.batchId,
      samples: b.s.map(fromSampleTuple),
      outcomes: b.o.map(fromOutcomeTuple),
    };
  }
  if (
    b?.v !== 1 || typeof b.batchId !== "string" || !Array.isArray(b.samples) ||
    !Array.isArray(b.outcomes)
  ) {
    throw new ResultBatchFormatError("queue message is not a version 1 or 2 result batch");
  }
  return b as unknown as ResultBatch;
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
    let json = kind === "samples"
      ? JSON.stringify(sampleTuple(item as MetricSample))
      : JSON.stringify(outcomeTuple(item as PollOutcome));
    if (kind === "samples" && !out.fitsAlone(json)) {
      item = { ...(item as MetricSample), volumes: null, interfaces: null };
      json = JSON.stringify(sampleTuple(item));
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
      json = JSON.stringify(sampleTuple(item));
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
 * One message at a time, UTF-8 straight into a scratch buffer: the version 2 text,
 * `{"v":2,"batchId":"…","s":[…],"o":[…]}`.
 */
class MessageWriter {
  static #scratch = new Uint8Array(MAX_MESSAGE_BYTES);
  #at = 0;
  /** no item yet in the array being written */
  #first = true;
  #kind: "samples" | "outcomes" = "samples";

  begin(batch: ResultBatch, kind: "samples" | "outcomes") {
    this.#at = 0;
    this.#put(`{"v":${MESSAGE_VERSION},"batchId":${JSON.stringify(batch.batchId)},"s":[`);
    this.#kind = "samples";
    this.#first = true;
    if (kind === "outcomes") this.next();
  }

  /** The samples are written; the outcomes follow. */
  next() {
    this.#put(`],"o":[`);
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
    // room kept for the closing `],"o":[]}`
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
