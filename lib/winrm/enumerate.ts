/**
 * WQL through WS-Enumeration: Enumerate (with OptimizeEnumeration, so a small result comes
 * back whole in the first response: one round trip), then Pull while the server returns a
 * context, until EndOfSequence. A consumer that stops early, or an error or abort in the
 * middle, sends Release so the server frees the context now instead of after its
 * EnumerationTimeoutms (60 s by default).
 */
import type { EnvelopeBuilder } from "./envelope.ts";
import { type EnumerationBatch, enumerationBatch, type WmiItem } from "./parse.ts";

// deno-lint-ignore no-explicit-any
type Body = any;

export interface EnumerationCalls {
  builder: EnvelopeBuilder;
  /** sends an envelope, returns the response Body (faults thrown as WsmanFaultError) */
  call: (xml: string, signal?: AbortSignal) => Promise<Body>;
  /** best-effort Release of an abandoned context (never throws) */
  release: (resourceUri: string, context: string) => Promise<void>;
  onPull?: () => void;
}

export async function* enumerateBatches(
  calls: EnumerationCalls,
  resourceUri: string,
  wql: string,
  maxElements: number,
  signal?: AbortSignal,
  /** the EnumerateResponse when the caller already sent the Enumerate */
  enumerated?: EnumerationBatch,
): AsyncGenerator<WmiItem[], void, undefined> {
  let context: string | null = enumerated?.context ?? null;
  let finished = false;
  try {
    const first = enumerated ?? enumerationBatch(
      await calls.call(calls.builder.enumerate(resourceUri, wql, maxElements).xml, signal),
    );
    context = first.context;
    finished = first.endOfSequence;
    if (first.items.length) yield first.items;
    while (!finished && context) {
      calls.onPull?.();
      const batch = enumerationBatch(
        await calls.call(calls.builder.pull(resourceUri, context, maxElements).xml, signal),
      );
      finished = batch.endOfSequence;
      context = batch.context ?? (finished ? null : context);
      if (batch.items.length) yield batch.items;
    }
  } finally {
    if (!finished && context) await calls.release(resourceUri, context);
  }
}
