/**
 * WQL through WS-Enumeration: Enumerate (with OptimizeEnumeration, so a small result comes
 * back whole in the first response: one round trip), then Pull while the server returns a
 * context, until EndOfSequence. A consumer that stops early, or an error or abort in the
 * middle, sends Release so the server frees the context now instead of after its
 * EnumerationTimeoutms (60 s by default).
 */
import type { Envelope, EnvelopeBuilder } from "./envelope.ts";
import { EnumerationLimitError } from "./errors.ts";
import { type EnumerationBatch, enumerationBatch, type WmiItem } from "./parse.ts";

/**
 * Caps per enumeration, so a server that never sends EndOfSequence (or a query that returns
 * far more than expected) ends in an error instead of holding memory until the deadline.
 */
export interface EnumerationLimits {
  /** items over the Enumerate and all its Pulls */
  maxItems: number;
  /** Pulls after the Enumerate */
  maxPulls: number;
}

/**
 * Defaults: a poll's queries return at most a few hundred items in their EnumerateResponse;
 * 250 Pulls bound a response stream near 93 MB: each response body may be twice the 150 KiB
 * envelope the client asks for and 64 KiB more (a UTF-16 answer, lib/winrm/http.ts).
 */
export const DEFAULT_ENUMERATION_LIMITS: EnumerationLimits = { maxItems: 50_000, maxPulls: 250 };

/** Throws EnumerationLimitError when `items` or `pulls` passed a cap. */
export function checkLimits(
  limits: EnumerationLimits,
  items: number,
  pulls: number,
  what: () => string,
): void {
  if (items <= limits.maxItems && pulls <= limits.maxPulls) return;
  if (items > limits.maxItems) {
    throw new EnumerationLimitError(
      `${what()}: more than ${limits.maxItems} items (the enumeration's maxItems cap); stopped ` +
        "and released it",
      "maxItems",
      limits.maxItems,
    );
  }
  if (pulls > limits.maxPulls) {
    throw new EnumerationLimitError(
      `${what()}: still no end of sequence after ${limits.maxPulls} Pulls (the enumeration's ` +
        "maxPulls cap); stopped and released it",
      "maxPulls",
      limits.maxPulls,
    );
  }
}

// deno-lint-ignore no-explicit-any
type Body = any;

export interface EnumerationCalls {
  builder: EnvelopeBuilder;
  /** sends an envelope, returns the response Body (faults thrown as WsmanFaultError) */
  call: (envelope: Envelope, signal?: AbortSignal) => Promise<Body>;
  /** best-effort Release of an abandoned context (never throws) */
  release: (resourceUri: string, context: string) => Promise<void>;
  onPull?: () => void;
  limits: EnumerationLimits;
  /** names the endpoint and query in a limit error */
  describe: () => string;
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
  let items = 0;
  let pulls = 0;
  try {
    const first = enumerated ?? enumerationBatch(
      await calls.call(calls.builder.enumerate(resourceUri, wql, maxElements), signal),
    );
    context = first.context;
    finished = first.endOfSequence;
    items += first.items.length;
    checkLimits(calls.limits, items, pulls, calls.describe);
    if (first.items.length) yield first.items;
    while (!finished && context) {
      checkLimits(calls.limits, items, ++pulls, calls.describe);
      calls.onPull?.();
      const batch = enumerationBatch(
        await calls.call(calls.builder.pull(resourceUri, context, maxElements), signal),
      );
      finished = batch.endOfSequence;
      context = batch.context ?? (finished ? null : context);
      items += batch.items.length;
      checkLimits(calls.limits, items, pulls, calls.describe);
      if (batch.items.length) yield batch.items;
    }
  } finally {
    if (!finished && context) await calls.release(resourceUri, context);
  }
}
