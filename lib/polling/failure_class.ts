/**
 * Why a poll failed, in a few classes an operator can act on: counted per class by the
 * poller Workers, exported in `GET /metrics` (nmslite_polls_failed_total{class}) and carried
 * in each failed poll's outcome.
 *
 * - timeout: no answer in time (connect, read, the WinRM operation, or the poll's deadline);
 * - refused: nothing listens on the port (ECONNREFUSED);
 * - reset: the connection was reset or closed under the request;
 * - unreachable: no route, or the name does not resolve;
 * - tls: certificate or TLS handshake;
 * - auth: the credentials were refused, or could not be decrypted;
 * - fault: the target answered, but with a WS-Management fault or a response we cannot use;
 * - local_resource: this process ran out of descriptors or socket buffers (never the
 *   target's fault: the descriptor budget, lib/winrm/budget.ts, exists to keep this at 0);
 * - other: everything else (an exec plugin's non-zero exit, configuration).
 */
import { isLocalResource } from "../winrm/errors.ts";

export const FAILURE_CLASSES = [
  "timeout",
  "refused",
  "reset",
  "unreachable",
  "tls",
  "auth",
  "fault",
  "local_resource",
  "other",
] as const;

export type FailureClass = typeof FAILURE_CLASSES[number];

/** A failure count per class, every class present. */
export function emptyFailureCounts(): Record<FailureClass, number> {
  return Object.fromEntries(FAILURE_CLASSES.map((c) => [c, 0])) as Record<FailureClass, number>;
}

/** The failure counts of several poller Workers added up, every class present. */
export function sumFailureCounts(
  counts: Iterable<Partial<Record<string, number>> | undefined>,
): Record<FailureClass, number> {
  const out = emptyFailureCounts();
  for (const c of counts) for (const k of FAILURE_CLASSES) out[k] += c?.[k] ?? 0;
  return out;
}

/**
 * The class of a poll's error: the WinRM client's typed errors by `kind` (and a connection
 * error's `problem`), exec plugin errors by theirs, the poller's own timeout, and the
 * message's errno for anything else that ran out of descriptors.
 */
export function failureClass(err: unknown): FailureClass {
  const e = (err ?? {}) as {
    kind?: unknown;
    problem?: unknown;
    code?: unknown;
    message?: unknown;
    name?: unknown;
  };
  switch (e.kind) {
    // what the target said: its text is no errno of ours
    case "tls":
      return "tls";
    case "auth":
    case "credential":
    case "access_denied": // WMI: logged on, but DCOM/namespace rights refused
      return "auth";
    case "wsman_fault":
    case "protocol":
    // WMI over DCOM (lib/wmi/errors.ts)
    case "invalid_class":
    case "invalid_namespace":
    case "invalid_query":
    case "integrity":
    case "wmi":
      return "fault";
    case "rpc_unavailable":
    case "port_blocked":
      return "refused";
  }
  if (isLocalResource(err)) return "local_resource";
  switch (e.kind) {
    case "timeout":
      return "timeout";
    case "connection":
      switch (e.problem) {
        case "refused":
          return "refused";
        case "reset":
        case "closed":
          return "reset";
        case "unreachable":
        case "dns":
          return "unreachable";
      }
      return "other";
    case "cancelled":
      // a poll is cancelled by its own deadline
      return "timeout";
  }
  return "other";
}
