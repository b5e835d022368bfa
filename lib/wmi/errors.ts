/**
 * Typed WMI-over-DCOM client errors. Each has a stable `kind` and a message an operator can act
 * on; none is built from a password. HRESULTs and RPC status codes are kept as numbers.
 */

export type WmiErrorKind =
  | "auth"
  | "access_denied"
  | "invalid_class"
  | "invalid_namespace"
  | "invalid_query"
  | "rpc_unavailable"
  | "port_blocked"
  | "timeout"
  | "integrity"
  | "protocol"
  | "wmi"
  | "config";

export abstract class WmiError extends Error {
  abstract readonly kind: WmiErrorKind;
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { kind: this.kind, name: this.name };
    for (const [k, v] of Object.entries(this)) if (k !== "cause") out[k] = v;
    out.message = this.message;
    return out;
  }
}

/** NTLM logon refused (wrong user or password): the host counted one failed logon. */
export class WmiAuthenticationError extends WmiError {
  override name = "WmiAuthenticationError";
  readonly kind = "auth";
}

/** Logged on, but the account may not activate DCOM or use the namespace. */
export class WmiAccessDeniedError extends WmiError {
  override name = "WmiAccessDeniedError";
  readonly kind = "access_denied";
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

/** WBEM_E_INVALID_CLASS / INVALID_NAMESPACE / INVALID_QUERY and any other failing HRESULT. */
export class WmiCallError extends WmiError {
  override name = "WmiCallError";
  readonly kind: WmiErrorKind;
  constructor(message: string, readonly code: number) {
    super(message);
    this.kind = code === WBEM_E_INVALID_CLASS
      ? "invalid_class"
      : code === WBEM_E_INVALID_NAMESPACE
      ? "invalid_namespace"
      : code === WBEM_E_INVALID_QUERY
      ? "invalid_query"
      : "wmi";
  }
}

/** Nothing answers on 135 (RPC_S_SERVER_UNAVAILABLE, 0x800706BA). */
export class RpcUnavailableError extends WmiError {
  override name = "RpcUnavailableError";
  readonly kind = "rpc_unavailable";
  readonly code = 0x800706ba;
}

/** Activation on 135 worked but the dynamic WMI port does not answer: a firewall gap. */
export class WmiPortBlockedError extends WmiError {
  override name = "WmiPortBlockedError";
  readonly kind = "port_blocked";
  constructor(message: string, readonly port: number) {
    super(message);
  }
}

export type WmiPhase =
  | "budget"
  | "connect"
  | "activate"
  | "bind"
  | "login"
  | "query"
  | "next"
  | "release";

export class WmiTimeoutError extends WmiError {
  override name = "WmiTimeoutError";
  readonly kind = "timeout";
  constructor(readonly phase: WmiPhase, readonly ms: number) {
    super(
      phase === "budget"
        ? `no connection slot came free within ${ms} ms (this process's descriptor budget is in use)`
        : `WMI ${phase} timed out after ${ms} ms`,
    );
  }
}

/** A PDU's NTLM signature did not verify: refused, the connection is dropped. */
export class WmiIntegrityError extends WmiError {
  override name = "WmiIntegrityError";
  readonly kind = "integrity";
}

export class WmiProtocolError extends WmiError {
  override name = "WmiProtocolError";
  readonly kind = "protocol";
  constructor(message: string, readonly code?: number) {
    super(message);
  }
}

/**
 * A reply reassembled past the client's bound (`maxReplyBytes`): only a broken or hostile host
 * sends one, and asking again would get the same answer, so it is not retried.
 */
export class WmiReplyTooLargeError extends WmiProtocolError {
  override name = "WmiReplyTooLargeError";
  constructor(readonly limit: number) {
    super(`the host's reply is larger than ${limit} bytes`);
  }
}

/**
 * A query whose answer went past the client's caps (`WmiQueryLimits`): more objects, Next calls
 * or bytes than any class the collector reads holds. A host that never says "no more" would
 * otherwise be read until the poll's deadline, into the poller's memory.
 */
export class WmiQueryLimitError extends WmiProtocolError {
  override name = "WmiQueryLimitError";
  constructor(
    message: string,
    readonly limit: "objects" | "nexts" | "bytes",
    readonly cap: number,
  ) {
    super(message);
  }
}

export class WmiConfigError extends WmiError {
  override name = "WmiConfigError";
  readonly kind = "config";
}

export const WBEM_S_FALSE = 1;
export const WBEM_S_TIMEDOUT = 0x40004;
export const WBEM_E_ACCESS_DENIED = 0x80041003;
export const WBEM_E_INVALID_NAMESPACE = 0x8004100e;
export const WBEM_E_INVALID_CLASS = 0x80041010;
export const WBEM_E_INVALID_QUERY = 0x80041017;
export const E_ACCESSDENIED = 0x80070005;
export const RPC_ACCESS_DENIED = 5;
export const NCA_UNKNOWN_IF = 0x1c010003;
export const NCA_OP_RNG_ERROR = 0x1c010002;
export const RPC_PROTO_ERROR = 0x1c00001a;

const NAMES: Record<number, string> = {
  [WBEM_E_ACCESS_DENIED]: "WBEM_E_ACCESS_DENIED",
  [WBEM_E_INVALID_NAMESPACE]: "WBEM_E_INVALID_NAMESPACE",
  [WBEM_E_INVALID_CLASS]: "WBEM_E_INVALID_CLASS",
  [WBEM_E_INVALID_QUERY]: "WBEM_E_INVALID_QUERY",
  [0x80041002]: "WBEM_E_NOT_FOUND",
  [E_ACCESSDENIED]: "E_ACCESSDENIED",
  [RPC_ACCESS_DENIED]: "ERROR_ACCESS_DENIED",
  [NCA_UNKNOWN_IF]: "nca_s_unknown_if",
  [NCA_OP_RNG_ERROR]: "nca_s_op_rng_error",
  [RPC_PROTO_ERROR]: "rpc_s_protocol_error",
};

export function hresultName(code: number): string {
  const hex = "0x" + (code >>> 0).toString(16).padStart(8, "0");
  const name = NAMES[code >>> 0];
  return name ? `${name} (${hex})` : hex;
}

/** An HRESULT or fault status from a call, as the typed error that says what happened. */
export function callError(what: string, code: number): WmiError {
  const c = code >>> 0;
  if (c === WBEM_E_ACCESS_DENIED || c === E_ACCESSDENIED || c === RPC_ACCESS_DENIED) {
    return new WmiAccessDeniedError(`${what}: access denied (${hresultName(c)})`, c);
  }
  return new WmiCallError(`${what} failed: ${hresultName(c)}`, c);
}
