/**
 * WS-Man response parsing with fast-xml-parser. Namespace prefixes are stripped so elements
 * are matched by local name: Items/EndOfSequence come in the wsman namespace in an
 * EnumerateResponse and in the enumeration namespace in a PullResponse, and instances are
 * `p:Win32_X` (SELECT *) or unqualified children of `w:XmlFragment` (projections).
 *
 * Values: text stays text, except canonical integers (number, or bigint beyond 2^53 so
 * 64-bit counters stay exact), "true"/"false" (boolean), xsi:nil (null), cim:Datetime
 * (Date), repeated elements (arrays). A property with one value cannot be told apart from
 * a one-element array on the wire; callers that expect arrays should wrap with asArray().
 */
import { XMLParser } from "fast-xml-parser";
import { ProtocolError, type WsmanFaultInfo } from "./errors.ts";
import { scanXml, XmlUnsupported } from "./xml_scan.ts";

export type WmiValue = string | number | bigint | boolean | Date | null | WmiValue[] | WmiObject;
export interface WmiObject {
  [property: string]: WmiValue;
}
/** One WMI instance: property name (as Windows cased it) -> value. */
export type WmiItem = WmiObject;

export interface EnumerationBatch {
  items: WmiItem[];
  /** context for the next Pull; null once the sequence ended */
  context: string | null;
  endOfSequence: boolean;
}

// deno-lint-ignore no-explicit-any
type Node = any;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  processEntities: true,
  htmlEntities: false,
});

/**
 * The element tree: the fast scanner (xml_scan.ts), or fast-xml-parser for documents it
 * leaves alone (a DOCTYPE) or when asked (tests compare the two).
 */
export function xmlTree(xml: string, use: "scan" | "fast-xml-parser" = "scan"): Node {
  if (use === "scan") {
    try {
      return scanXml(xml);
    } catch (err) {
      if (!(err instanceof XmlUnsupported)) throw err;
    }
  }
  return parser.parse(xml);
}

const ENVELOPE_END = /<\/(?:[\w.-]+:)?Envelope\s*>\s*$/;

/** Parses a SOAP envelope and returns its Body (ProtocolError for garbage/truncation). */
export function parseEnvelope(xml: string): { header: Node; body: Node } {
  if (!ENVELOPE_END.test(xml.length > 256 ? xml.slice(-256) : xml)) {
    throw new ProtocolError(
      xml.trim() === ""
        ? "empty response body where a SOAP envelope was expected"
        : "response is not a complete SOAP envelope (garbage or truncated XML)",
    );
  }
  let doc: Node;
  try {
    doc = xmlTree(xml);
  } catch (err) {
    throw new ProtocolError(`malformed XML in response: ${(err as Error).message.split("\n")[0]}`);
  }
  const env = doc?.Envelope;
  if (!env || typeof env !== "object" || env.Body === undefined) {
    throw new ProtocolError("response is not a SOAP envelope");
  }
  return { header: env.Header ?? {}, body: env.Body === "" ? {} : env.Body };
}

/** The WS-Addressing RelatesTo of a response's Header (the MessageID it answers), or null. */
export function relatesToOf(header: Node): string | null {
  const v = text(first(header?.RelatesTo));
  return v === null ? null : v.trim();
}

/** Fault details when the body holds an s:Fault, else null. */
export function faultOf(body: Node): WsmanFaultInfo | null {
  const f = body?.Fault;
  if (!f) return null;
  const code = text(f.Code?.Value);
  const subcode = text(f.Code?.Subcode?.Value);
  let reason = text(first(f.Reason?.Text)) ?? "";
  const detail = f.Detail ?? {};
  let wsman = detail.WSManFault;
  let wsmanFaultCode = intAttr(wsman, "@Code");
  const machine = wsman?.["@Machine"] ?? null;
  // the innermost message is the useful one (a ProviderFault nests another WSManFault)
  for (let depth = 0; wsman && depth < 4; depth++) {
    const msg = wsman.Message;
    const inner = msg?.ProviderFault?.WSManFault;
    const t = typeof msg === "string" ? msg : text(msg);
    if (t) reason = t;
    if (!inner) break;
    const innerCode = intAttr(inner, "@Code");
    if (wsmanFaultCode === null) wsmanFaultCode = innerCode;
    wsman = inner;
  }
  const wmi = detail.MSFT_WmiError;
  const wmiErrorCode = wmi ? toInt(text(first(wmi.error_Code))) : null;
  if (wmi && !detail.WSManFault) reason = text(first(wmi.Message)) ?? reason;
  return {
    code,
    subcode,
    wsmanFaultCode,
    faultDetail: text(first(detail.FaultDetail)),
    wmiErrorCode,
    reason: reason.trim() || "(no reason given)",
    machine: typeof machine === "string" ? machine : null,
  };
}

/** EnumerateResponse or PullResponse -> one batch. */
export function enumerationBatch(body: Node): EnumerationBatch {
  const r = body.EnumerateResponse ?? body.PullResponse;
  if (!r || typeof r !== "object") {
    throw new ProtocolError("expected an EnumerateResponse or PullResponse");
  }
  const ctx = text(first(r.EnumerationContext));
  const endOfSequence = r.EndOfSequence !== undefined;
  return {
    items: itemsOf(r.Items),
    context: endOfSequence || !ctx ? null : ctx,
    endOfSequence: endOfSequence || !ctx,
  };
}

/** Get response body: the single instance element. */
export function getItem(body: Node): WmiItem {
  for (const key of Object.keys(body)) {
    if (key[0] !== "@") return toObject(first(body[key]));
  }
  throw new ProtocolError("Get response has an empty body");
}

function itemsOf(items: Node): WmiItem[] {
  if (!items || typeof items !== "object") return [];
  const out: WmiItem[] = [];
  for (const key of Object.keys(items)) {
    if (key[0] === "@") continue;
    const v = items[key];
    if (Array.isArray(v)) { for (const i of v) out.push(toObject(i)); }
    else out.push(toObject(v));
  }
  return out;
}

function toObject(node: Node): WmiObject {
  const out: WmiObject = {};
  if (!node || typeof node !== "object") return out;
  for (const key of Object.keys(node)) {
    if (key[0] === "@" || key === "#text") continue;
    const v = node[key];
    out[key] = Array.isArray(v) ? v.map(toValue) : toValue(v);
  }
  return out;
}

const INT = /^-?(?:0|[1-9]\d*)$/;

function toValue(v: Node): WmiValue {
  if (typeof v === "string") return scalar(v);
  if (v === null || v === undefined) return null;
  if (typeof v !== "object") return scalar(String(v));
  if (v["@nil"] === "true") return null;
  if (v.Datetime !== undefined) {
    const s = text(v.Datetime) ?? "";
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? s : d;
  }
  if (v.Interval !== undefined) return text(v.Interval);
  if (v.Date !== undefined && Object.keys(v).length === 1) return text(v.Date);
  if (v["#text"] !== undefined) return scalar(String(v["#text"]));
  const obj = toObject(v);
  return Object.keys(obj).length ? obj : "";
}

function scalar(s: string): WmiValue {
  if (INT.test(s)) {
    if (s.length < 16) return Number(s);
    const b = BigInt(s);
    return b <= BigInt(Number.MAX_SAFE_INTEGER) && b >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(b)
      : b;
  }
  if (s === "true") return true;
  if (s === "false") return false;
  return s;
}

function first(v: Node): Node {
  return Array.isArray(v) ? v[0] : v;
}

function text(v: Node): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === "string") return v;
  if (typeof v === "object") return v["#text"] !== undefined ? String(v["#text"]) : null;
  return String(v);
}

function toInt(s: string | null): number | null {
  if (s === null || !/^-?\d+$/.test(s)) return null;
  return Number(s);
}

function intAttr(node: Node, attr: string): number | null {
  return node && typeof node === "object" ? toInt(node[attr] ?? null) : null;
}

// ---- reading properties ------------------------------------------------------------------

/** A property by name, case-insensitively (live WMI writes "BytesReceivedPersec"). */
export function prop(item: WmiItem, name: string): WmiValue | undefined {
  if (name in item) return item[name];
  const lower = name.toLowerCase();
  for (const key in item) if (key.toLowerCase() === lower) return item[key];
  return undefined;
}

/** A numeric property as a number (bigint converted, may round above 2^53), else null. */
export function numProp(item: WmiItem, name: string): number | null {
  const v = prop(item, name);
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return null;
}

/** A property as text (numbers printed exactly), else null. */
export function strProp(item: WmiItem, name: string): string | null {
  const v = prop(item, name);
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "object") return null;
  return String(v);
}

export function asArray(v: WmiValue | undefined): WmiValue[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}
