/**
 * SOAP faults as Windows sends them (REFERENCE §4) and the misbehaviours a test can inject per
 * host. Only the WSManFault codes confirmed from real traffic or wsmerror.h are used.
 */
import { envelope, escapeXml, NS } from "./xml.ts";

/** A misbehaviour injected into one simulated host. */
export type SimFault =
  /** answer every request `ms` late */
  | { kind: "slow"; ms: number }
  /** 401 for everything, whatever the credentials */
  | { kind: "unauthorized" }
  /** after authentication, a WS-Man fault with HTTP 500 instead of the answer */
  | { kind: "fault"; subcode?: "TimedOut" | "AccessDenied" }
  /** every WQL query fails as if the class did not exist */
  | { kind: "unknown-class" }
  /** these classes do not exist here (old Windows, performance counters disabled) */
  | { kind: "missing-class"; classes: string[] }
  /** queries of these classes are refused with AccessDenied (the rest answers) */
  | { kind: "denied-class"; classes: string[] }
  /** destroy the connection when a request arrives */
  | { kind: "reset" }
  /** read the request, never answer */
  | { kind: "hang" }
  /** 200 with a truncated, unparseable body */
  | { kind: "malformed" }
  /**
   * a server without HTTP pipelining: answers the first of several requests that arrived
   * together with `Connection: close` and drops the rest (`no-pipelining`), or answers it
   * and silently discards the rest, leaving the client waiting (`no-pipelining:ignore`)
   */
  | { kind: "no-pipelining"; ignore?: boolean }
  /** an enumeration that never ends: every Pull returns items and another context */
  | { kind: "endless" }
  /** answers an encrypted request in clear (what someone on the path could inject) */
  | { kind: "unsealed" };

export const FAULT_KINDS = [
  "slow",
  "unauthorized",
  "fault",
  "unknown-class",
  "missing-class",
  "denied-class",
  "reset",
  "hang",
  "malformed",
  "no-pipelining",
  "endless",
  "unsealed",
] as const;

/** `hang`, `slow:2000`, `fault:TimedOut` → SimFault. */
export function parseFault(text: string): SimFault {
  const [kind, arg] = text.trim().split(":", 2);
  switch (kind) {
    case "slow": {
      const ms = Number(arg ?? "1000");
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`bad delay in fault "${text}"`);
      return { kind, ms };
    }
    case "fault":
      if (arg && arg !== "TimedOut" && arg !== "AccessDenied") {
        throw new Error(`fault subcode must be TimedOut or AccessDenied, not "${arg}"`);
      }
      return arg ? { kind, subcode: arg as "TimedOut" | "AccessDenied" } : { kind };
    case "missing-class":
    case "denied-class": {
      // "+" between classes: a fault spec already uses "," between hosts
      const classes = (arg ?? "").split("+").map((c) => c.trim()).filter(Boolean);
      if (!classes.length) throw new Error(`${kind} needs class names: "${kind}:Win32_Service"`);
      return { kind, classes };
    }
    case "no-pipelining":
      if (arg && arg !== "ignore") throw new Error(`no-pipelining takes only ":ignore"`);
      return arg ? { kind, ignore: true } : { kind };
    case "unauthorized":
    case "unknown-class":
    case "reset":
    case "hang":
    case "malformed":
    case "endless":
    case "unsealed":
      return { kind };
  }
  throw new Error(`unknown fault "${kind}" (one of ${FAULT_KINDS.join(", ")})`);
}

/** Validate a fault given as JSON (control endpoint, API). */
export function checkFault(v: unknown): SimFault | null {
  if (v === null) return null;
  if (typeof v === "string") return parseFault(v);
  if (typeof v !== "object" || !FAULT_KINDS.includes((v as { kind: never }).kind)) {
    throw new Error('fault must be null, a string like "slow:500" or {kind: ...}');
  }
  const f = v as SimFault;
  if (f.kind === "slow" && !(typeof f.ms === "number" && f.ms >= 0)) {
    throw new Error("slow fault needs ms >= 0");
  }
  if (
    (f.kind === "missing-class" || f.kind === "denied-class") &&
    !(Array.isArray(f.classes) && f.classes.every((c) => typeof c === "string"))
  ) {
    throw new Error(`${f.kind} fault needs classes: string[]`);
  }
  return f;
}

/** `127.0.10.3=hang,127.0.10.4=slow:500` */
export function parseFaultSpec(spec: string): Map<string, SimFault> {
  const out = new Map<string, SimFault>();
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq < 0) throw new Error(`fault entry "${part}" is not ip=fault`);
    out.set(part.slice(0, eq).trim(), parseFault(part.slice(eq + 1)));
  }
  return out;
}

interface FaultSpec {
  action: string;
  code: "s:Sender" | "s:Receiver";
  subcode: string;
  reason: string;
  wsmanCode?: string;
  faultDetail?: string;
}

const WSMAN_FAULT = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault";
const ENUM_FAULT = "http://schemas.xmlsoap.org/ws/2004/09/enumeration/fault";
const ADDR_FAULT = "http://schemas.xmlsoap.org/ws/2004/08/addressing/fault";

export const FAULTS = {
  cannotProcessFilter: {
    action: ENUM_FAULT,
    code: "s:Sender",
    subcode: "n:CannotProcessFilter",
    reason: "The data source could not process the filter. The filter might be missing or it " +
      "might be invalid. Change the filter and try the request again.",
    wsmanCode: "2150858778",
  },
  timedOut: {
    action: WSMAN_FAULT,
    code: "s:Receiver",
    subcode: "w:TimedOut",
    reason: "The WS-Management service cannot complete the operation within the time specified " +
      "in OperationTimeout.",
    wsmanCode: "2150858793",
  },
  accessDenied: {
    action: WSMAN_FAULT,
    code: "s:Sender",
    subcode: "w:AccessDenied",
    reason: "Access is denied.",
    wsmanCode: "5",
  },
  invalidEnumerationContext: {
    action: ENUM_FAULT,
    code: "s:Receiver",
    subcode: "n:InvalidEnumerationContext",
    reason: "The enumeration context supplied in the message is not valid.",
    wsmanCode: "2150858779",
  },
  actionNotSupported: {
    action: ADDR_FAULT,
    code: "s:Sender",
    subcode: "a:ActionNotSupported",
    reason: "The action is not supported by the service.",
    wsmanCode: "2150858771",
  },
  invalidSelectors: {
    action: WSMAN_FAULT,
    code: "s:Sender",
    subcode: "w:InvalidSelectors",
    reason: "The WS-Management service cannot process the request because the request " +
      "contained invalid selectors for the resource.",
    wsmanCode: "2150858843",
    faultDetail: "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/UnexpectedSelectors",
  },
  resourceNotFound: {
    action: ADDR_FAULT,
    code: "s:Sender",
    subcode: "a:DestinationUnreachable",
    reason: "The WS-Management service cannot process the request. The resource URI is not " +
      "valid or the resource was not found.",
    faultDetail: "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/ResourceNotFound",
  },
  missingHeader: {
    action: ADDR_FAULT,
    code: "s:Sender",
    subcode: "a:InvalidMessageInformationHeader",
    reason: "A message information header is not valid or the message cannot be processed.",
  },
  schemaValidation: {
    action: WSMAN_FAULT,
    code: "s:Sender",
    subcode: "w:SchemaValidationError",
    reason: "The SOAP XML in the message does not match the corresponding XML schema " +
      "definition. Change the XML and retry.",
    wsmanCode: "2150858817",
  },
} satisfies Record<string, FaultSpec>;

export type FaultName = keyof typeof FAULTS;

export function faultEnvelope(
  name: FaultName,
  relatesTo: string | undefined,
  machine: string,
  message?: string,
): string {
  const f: FaultSpec = FAULTS[name];
  const text = escapeXml(message ?? f.reason);
  const detail = (f.faultDetail ? `<w:FaultDetail>${f.faultDetail}</w:FaultDetail>` : "") +
    `<f:WSManFault xmlns:f="${NS.f}"` + (f.wsmanCode ? ` Code="${f.wsmanCode}"` : "") +
    ` Machine="${escapeXml(machine)}"><f:Message>${text}</f:Message></f:WSManFault>`;
  return envelope(
    f.action,
    relatesTo,
    `<s:Fault><s:Code><s:Value>${f.code}</s:Value><s:Subcode><s:Value>${f.subcode}</s:Value>` +
      `</s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">${text}</s:Text></s:Reason>` +
      `<s:Detail>${detail}</s:Detail></s:Fault>`,
  );
}
