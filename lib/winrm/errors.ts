/**
 * Typed WinRM client errors. Each has a stable `kind` (stored as a poll outcome's errorKind)
 * and a message an operator can act on. None is ever built from a password, and toJSON()
 * lists only the public fields, so logging or serialising an error cannot leak a secret.
 */

export type WinrmErrorKind =
  | "auth"
  | "tls"
  | "timeout"
  | "connection"
  | "wsman_fault"
  | "protocol"
  | "cancelled"
  | "config";

export abstract class WinrmError extends Error {
  abstract readonly kind: WinrmErrorKind;

  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { kind: this.kind, name: this.name };
    for (const [k, v] of Object.entries(this)) {
      if (k !== "cause") out[k] = v;
    }
    out.message = this.message;
    return out;
  }
}

/** The server refused the credentials (HTTP 401), or offered no usable scheme. */
export class AuthenticationError extends WinrmError {
  override name = "AuthenticationError";
  readonly kind = "auth";
  constructor(message: string, readonly httpStatus?: number) {
    super(message);
  }
}

export type TlsProblem =
  | "self-signed"
  | "untrusted-issuer"
  | "hostname-mismatch"
  | "expired"
  | "not-yet-valid"
  | "handshake"
  | "other";

/** Certificate verification or TLS handshake failed; `problem` names which. */
export class TlsError extends WinrmError {
  override name = "TlsError";
  readonly kind = "tls";
  constructor(readonly problem: TlsProblem, message: string, readonly code?: string) {
    super(message);
  }
}

export type TimeoutPhase = "connect" | "read" | "operation";

export class TimeoutError extends WinrmError {
  override name = "TimeoutError";
  readonly kind = "timeout";
  constructor(readonly phase: TimeoutPhase, message: string) {
    super(message);
  }
}

/** The caller's AbortSignal fired for a reason other than a timeout. */
export class CancelledError extends WinrmError {
  override name = "CancelledError";
  readonly kind = "cancelled";
}

/**
 * errno names and the "os error N" Rust's std::io prints (EMFILE 24, ENFILE 23, ENOBUFS 105,
 * ENOMEM 12): this process or the system ran out of descriptors or buffers.
 */
const LOCAL_RESOURCE =
  /\b(EMFILE|ENFILE|ENOBUFS|ENOMEM)\b|too many open files|os error (12|23|24|105)\b/i;

/** The error says this process ran out of descriptors or buffers, whoever raised it. */
export function isLocalResource(err: unknown): boolean {
  const e = err as { problem?: unknown; code?: unknown; message?: unknown } | null;
  if (!e || typeof e !== "object") return LOCAL_RESOURCE.test(String(err));
  return e.problem === "local_resource" || LOCAL_RESOURCE.test(String(e.code ?? "")) ||
    LOCAL_RESOURCE.test(typeof e.message === "string" ? e.message : "");
}

/**
 * "local_resource": this process (or the system) ran out of file descriptors or socket
 * buffers (EMFILE, ENFILE, ENOBUFS, ENOMEM): nothing is wrong with the target.
 */
export type ConnectionProblem =
  | "refused"
  | "reset"
  | "closed"
  | "unreachable"
  | "dns"
  | "local_resource"
  | "other";

export class ConnectionError extends WinrmError {
  override name = "ConnectionError";
  readonly kind = "connection";
  constructor(readonly problem: ConnectionProblem, message: string, readonly code?: string) {
    super(message);
  }
}

export interface WsmanFaultInfo {
  /** SOAP Code value, e.g. "s:Sender" */
  code: string | null;
  /** SOAP Subcode value, e.g. "w:TimedOut", "n:CannotProcessFilter" */
  subcode: string | null;
  /** decimal HRESULT from f:WSManFault/@Code, e.g. 2150858778 */
  wsmanFaultCode: number | null;
  /** w:FaultDetail URI, when present */
  faultDetail: string | null;
  /** p:MSFT_WmiError/p:error_Code, when present */
  wmiErrorCode: number | null;
  /** the innermost human message (f:Message or s:Reason/s:Text) */
  reason: string;
  machine: string | null;
}

/** A SOAP fault from the WS-Management service (usually with HTTP 500). */
export class WsmanFaultError extends WinrmError {
  override name = "WsmanFaultError";
  readonly kind = "wsman_fault";
  readonly code: string | null;
  readonly subcode: string | null;
  readonly wsmanFaultCode: number | null;
  readonly faultDetail: string | null;
  readonly wmiErrorCode: number | null;
  readonly reason: string;
  readonly machine: string | null;
  constructor(info: WsmanFaultInfo, readonly httpStatus: number) {
    super(
      `WS-Management fault ${info.subcode ?? info.code ?? "(no code)"}` +
        (info.wsmanFaultCode !== null ? ` (WSManFault ${info.wsmanFaultCode})` : "") +
        `: ${info.reason}`,
    );
    this.code = info.code;
    this.subcode = info.subcode;
    this.wsmanFaultCode = info.wsmanFaultCode;
    this.faultDetail = info.faultDetail;
    this.wmiErrorCode = info.wmiErrorCode;
    this.reason = info.reason;
    this.machine = info.machine;
  }
}

/** Garbage, truncated or unexpected responses (not a valid HTTP/WS-Man exchange). */
export class ProtocolError extends WinrmError {
  override name = "ProtocolError";
  readonly kind = "protocol";
  constructor(message: string, readonly httpStatus?: number) {
    super(message);
  }
}

/**
 * An enumeration passed its item or Pull cap (a server that never sends EndOfSequence, or a
 * query far larger than a poll expects). The context was released; `limit` names which cap.
 */
export class EnumerationLimitError extends ProtocolError {
  override name = "EnumerationLimitError";
  constructor(message: string, readonly limit: "maxItems" | "maxPulls", readonly value: number) {
    super(message);
  }
}

/** The client was configured in a way that would be unsafe or cannot work. */
export class ConfigError extends WinrmError {
  override name = "ConfigError";
  readonly kind = "config";
}

const CONNECTION_CODES: Record<string, ConnectionProblem> = {
  ECONNREFUSED: "refused",
  ECONNRESET: "reset",
  EPIPE: "reset",
  ECONNABORTED: "reset",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  ENOTFOUND: "dns",
  EAI_AGAIN: "dns",
  EMFILE: "local_resource",
  ENFILE: "local_resource",
  ENOBUFS: "local_resource",
  ENOMEM: "local_resource",
};

/** Maps a node:net or Deno socket error to a ConnectionError naming the endpoint. */
export function connectionErrorFrom(err: unknown, endpoint: string): ConnectionError {
  const e = err as { code?: string; message?: string };
  const code = typeof e?.code === "string" ? e.code : undefined;
  const problem: ConnectionProblem = (code ? CONNECTION_CODES[code] : undefined) ??
    // Deno.connect's resolver failure carries no code
    (!code && /failed to lookup address/.test(e?.message ?? "") ? "dns" : "other");
  const what = problem === "refused"
    ? "connection refused"
    : problem === "reset"
    ? "connection reset by peer"
    : problem === "unreachable"
    ? "host unreachable"
    : problem === "dns"
    ? "host name not resolved"
    : problem === "local_resource"
    ? "out of local resources (file descriptors or socket buffers) to connect"
    : e?.message ?? String(err);
  return new ConnectionError(problem, `${endpoint}: ${what}${code ? ` (${code})` : ""}`, code);
}
