/**
 * WS-Management request envelopes (MS-WSMV §3.1.4.1). Everything but the MessageID, the
 * ResourceURI, the Action and the body is fixed per client, so it is concatenated once and a
 * request costs a few string joins (a poll has a sub-millisecond CPU budget).
 */

import { flatString } from "./http.ts";

export const NS = {
  s: "http://www.w3.org/2003/05/soap-envelope",
  a: "http://schemas.xmlsoap.org/ws/2004/08/addressing",
  w: "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
  p: "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
  n: "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
  x: "http://schemas.xmlsoap.org/ws/2004/09/transfer",
} as const;

export const ACTION = {
  get: "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
  enumerate: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
  pull: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull",
  release: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release",
} as const;

export const WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
export const WMI_BASE = "http://schemas.microsoft.com/wbem/wsman/1/wmi/";
const ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous";

export interface EnvelopeOptions {
  /** the endpoint URL put in a:To */
  to: string;
  /** w:OperationTimeout, seconds (the server caps it at MaxTimeoutms, default 60 s) */
  operationTimeoutS: number;
  /** w:MaxEnvelopeSize, bytes */
  maxEnvelopeSize: number;
  locale: string;
}

export interface Envelope {
  xml: string;
  messageId: string;
}

const XML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

const NEEDS_ESCAPE = /[&<>"']/;

export function xmlEscape(text: string): string {
  return NEEDS_ESCAPE.test(text) ? text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]) : text;
}

/** ResourceURI of a WMI namespace ("root/cimv2" or "root\\cimv2") and class (or "*"). */
export function wmiResourceUri(namespace: string, className = "*"): string {
  if (namespace === "root/cimv2") return `${WMI_BASE}root/cimv2/${className}`;
  const ns = namespace.replace(/\\/g, "/").replace(/^\/+|\/+$/g, "");
  return `${WMI_BASE}${ns}/${className}`;
}

const ENVELOPE_OPEN = flatString(
  `<s:Envelope xmlns:s="${NS.s}" xmlns:a="${NS.a}" xmlns:n="${NS.n}" ` +
    `xmlns:w="${NS.w}" xmlns:p="${NS.p}"><s:Header><a:To>`,
);
/** the header after To, per setting, shared by every client with those settings */
const headerTails = new Map<string, string>();

function headerTail(opts: EnvelopeOptions): string {
  const key = `${opts.maxEnvelopeSize} ${opts.operationTimeoutS} ${opts.locale}`;
  let tail = headerTails.get(key);
  if (tail === undefined) {
    const lang = xmlEscape(opts.locale);
    tail = flatString(
      `</a:To><a:ReplyTo><a:Address s:mustUnderstand="true">${ANONYMOUS}</a:Address>` +
        `</a:ReplyTo><w:MaxEnvelopeSize s:mustUnderstand="true">${opts.maxEnvelopeSize}` +
        `</w:MaxEnvelopeSize><w:Locale xml:lang="${lang}" s:mustUnderstand="false"/>` +
        `<p:DataLocale xml:lang="${lang}" s:mustUnderstand="false"/>` +
        `<w:OperationTimeout>PT${opts.operationTimeoutS}S</w:OperationTimeout>` +
        `<w:ResourceURI s:mustUnderstand="true">`,
    );
    if (headerTails.size >= 64) headerTails.clear();
    headerTails.set(key, tail);
  }
  return tail;
}

export class EnvelopeBuilder {
  /**
   * Everything before the ResourceURI: the shared opening, this client's To, the shared tail.
   * Left as that concatenation (two joins, ~50 bytes of its own) rather than a ~770-byte flat
   * string per host.
   */
  readonly #head: string;
  readonly #mid: string;

  constructor(opts: EnvelopeOptions) {
    this.#head = ENVELOPE_OPEN + flatString(xmlEscape(opts.to)) + headerTail(opts);
    this.#mid = `</a:Action><a:MessageID>uuid:`;
  }

  #build(resourceUri: string, action: string, extraHeader: string, body: string): Envelope {
    const messageId = `uuid:${crypto.randomUUID()}`;
    const xml = this.#head + xmlEscape(resourceUri) +
      `</w:ResourceURI><a:Action s:mustUnderstand="true">` + action + this.#mid +
      messageId.slice(5) + `</a:MessageID>` + extraHeader + `</s:Header><s:Body>` + body +
      `</s:Body></s:Envelope>`;
    return { xml, messageId };
  }

  /** WQL Enumerate with OptimizeEnumeration: the first batch comes back in the response. */
  enumerate(resourceUri: string, wql: string, maxElements: number): Envelope {
    return this.#build(
      resourceUri,
      ACTION.enumerate,
      "",
      `<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>${maxElements}</w:MaxElements>` +
        `<w:Filter Dialect="${WQL_DIALECT}">${xmlEscape(wql)}</w:Filter></n:Enumerate>`,
    );
  }

  pull(resourceUri: string, context: string, maxElements: number): Envelope {
    return this.#build(
      resourceUri,
      ACTION.pull,
      "",
      `<n:Pull><n:EnumerationContext>${xmlEscape(context)}</n:EnumerationContext>` +
        `<n:MaxElements>${maxElements}</n:MaxElements></n:Pull>`,
    );
  }

  release(resourceUri: string, context: string): Envelope {
    return this.#build(
      resourceUri,
      ACTION.release,
      "",
      `<n:Release><n:EnumerationContext>${xmlEscape(context)}</n:EnumerationContext></n:Release>`,
    );
  }

  get(resourceUri: string, selectors?: Record<string, string | number>): Envelope {
    let set = "";
    if (selectors && Object.keys(selectors).length) {
      set = "<w:SelectorSet>";
      for (const [name, value] of Object.entries(selectors)) {
        set += `<w:Selector Name="${xmlEscape(name)}">${xmlEscape(String(value))}</w:Selector>`;
      }
      set += "</w:SelectorSet>";
    }
    return this.#build(resourceUri, ACTION.get, set, "");
  }
}
