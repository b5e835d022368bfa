/**
 * JSON-lines logging (LogTape) with an implicit context, so the request id set by the HTTP
 * middleware appears on every line written while that request runs.
 */
import {
  configure,
  jsonLinesFormatter,
  type LogLevel,
  type LogRecord,
  reset,
  type Sink,
  type TextFormatter,
} from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";

export async function setupLogging(level: "debug" | "info" | "warning" | "error"): Promise<void> {
  await configure({
    reset: true,
    sinks: { console: bufferedConsoleSink() },
    loggers: [
      { category: ["nmslite"], lowestLevel: level, sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
    contextLocalStorage: new AsyncLocalStorage(),
  });
}

export async function stopLogging(): Promise<void> {
  await reset();
}

/** How long a line may wait for the lines after it. */
const FLUSH_AFTER_MS = 100;
/** A batch this long is written at once, without waiting. */
const FLUSH_AT_LINES = 256;

const TO_STDERR: ReadonlySet<LogLevel> = new Set(["warning", "error", "fatal"]);

/**
 * Lines are buffered and written together, stdout (debug, info) and stderr (warning and up)
 * as the console writes them: a synchronous write per request line was ~5-8 % of a small GET.
 * Unlike LogTape's non-blocking console sink, nothing is dropped when lines come faster than
 * its 100 ms flushes (it keeps 200), and an idle server has no timer: LogTape's flushes every
 * 100 ms forever once a line was written, ten wake-ups a second of an idle main thread (~4 ms
 * of CPU a second). A timer runs only while lines wait, and the sink is flushed on dispose
 * (`stopLogging`).
 */
export function bufferedConsoleSink(
  format: TextFormatter = jsonLinesFormatter,
  streams: { out: WritableSync; err: WritableSync } = { out: Deno.stdout, err: Deno.stderr },
): Sink & Disposable {
  const out: string[] = [];
  const err: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (out.length) writeAll(streams.out, out.splice(0).join(""));
    if (err.length) writeAll(streams.err, err.splice(0).join(""));
  };
  const sink = (record: LogRecord) => {
    let line = format(record);
    if (!line.endsWith("\n")) line += "\n";
    (TO_STDERR.has(record.level) ? err : out).push(line);
    if (out.length + err.length >= FLUSH_AT_LINES) flush();
    else timer ??= setTimeout(flush, FLUSH_AFTER_MS);
  };
  return Object.assign(sink, { [Symbol.dispose]: flush });
}

interface WritableSync {
  writeSync(p: Uint8Array): number;
}

const encoder = new TextEncoder();

function writeAll(w: WritableSync, text: string): void {
  const bytes = encoder.encode(text);
  try {
    for (let at = 0; at < bytes.length;) at += w.writeSync(bytes.subarray(at));
  } catch {
    // a closed stdout or stderr (the reader went away): nothing more to do with the lines
  }
}
