/**
 * JSON-lines logging (LogTape) with an implicit context, so the request id set by the HTTP
 * middleware appears on every line written while that request runs.
 */
import { configure, getConsoleSink, jsonLinesFormatter, reset } from "@logtape/logtape";
import { AsyncLocalStorage } from "node:async_hooks";

export async function setupLogging(level: "debug" | "info" | "warning" | "error"): Promise<void> {
  await configure({
    reset: true,
    // Buffered: a synchronous write per request line was ~5-8% of a small GET.
    sinks: { console: getConsoleSink({ formatter: jsonLinesFormatter, nonBlocking: true }) },
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
