/**
 * XML helpers for the simulator: namespace URIs, escaping, a prefix-agnostic element lookup for
 * requests (clients use env:/s:/soap: freely) and the response envelope Windows sends.
 */
import { NS as WSMAN_NS } from "../lib/winrm/envelope.ts";
export const NS = {
  ...WSMAN_NS,
  rsp: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
  f: "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
  cim: "http://schemas.dmtf.org/wbem/wscim/1/common",
  xsi: "http://www.w3.org/2001/XMLSchema-instance",
  wmiCimv2: "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/",
  anonymous: "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous",
} as const;

export const ACTION = {
  get: "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get",
  create: "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
  delete: "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete",
  enumerate: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Enumerate",
  pull: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Pull",
  release: "http://schemas.xmlsoap.org/ws/2004/09/enumeration/Release",
  command: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
  receive: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
  signal: "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Signal",
} as const;

const ESC: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
};

export function escapeXml(s: string): string {
  return /[&<>"']/.test(s) ? s.replace(/[&<>"']/g, (c) => ESC[c]) : s;
}

export function unescapeXml(s: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    const k = e.toLowerCase();
    if (k[0] === "#") {
      return String.fromCodePoint(k[1] === "x" ? parseInt(k.slice(2), 16) : parseInt(k.slice(1)));
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[k]!;
  });
}

export interface XmlElement {
  attrs: string;
  text: string;
}

const elementCache = new Map<string, RegExp>();

/** First element with this local name, whatever its prefix (requests are small and flat). */
export function findElement(xml: string, localName: string): XmlElement | undefined {
  let re = elementCache.get(localName);
  if (!re) {
    re = new RegExp(
      `<(?:[\\w.-]+:)?${localName}(\\s[^>]*?)?(?:/>|>([\\s\\S]*?)</(?:[\\w.-]+:)?${localName}\\s*>)`,
    );
    elementCache.set(localName, re);
  }
  const m = re.exec(xml);
  if (!m) return undefined;
  return { attrs: m[1] ?? "", text: m[2] ?? "" };
}

export function elementText(xml: string, localName: string): string | undefined {
  const el = findElement(xml, localName);
  return el ? textContent(el.text).trim() : undefined;
}

/** Character data of an element: entities decoded, CDATA sections taken as they are. */
export function textContent(raw: string): string {
  if (!raw.includes("<![CDATA[")) return unescapeXml(raw);
  let out = "";
  let at = 0;
  for (const m of raw.matchAll(/<!\[CDATA\[([\s\S]*?)\]\]>/g)) {
    out += unescapeXml(raw.slice(at, m.index)) + m[1];
    at = m.index + m[0].length;
  }
  return out + unescapeXml(raw.slice(at));
}

export function attribute(attrs: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)(?:[\\w.-]+:)?${name}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(
    attrs,
  );
  return m ? unescapeXml(m[2] ?? m[3]) : undefined;
}

/** All `<x:Selector Name="k">v</x:Selector>` pairs, names lower-cased (selectors are case-insensitive). */
export function selectors(xml: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /<(?:[\w.-]+:)?Selector(\s[^>]*)?>([\s\S]*?)<\/(?:[\w.-]+:)?Selector\s*>/g;
  for (const m of xml.matchAll(re)) {
    const name = attribute(m[1] ?? "", "Name");
    if (name) out.set(name.toLowerCase(), unescapeXml(m[2].trim()));
  }
  return out;
}

const ENVELOPE_OPEN = `<s:Envelope xml:lang="en-US" xmlns:s="${NS.s}" xmlns:a="${NS.a}" ` +
  `xmlns:n="${NS.n}" xmlns:w="${NS.w}" xmlns:x="${NS.x}" xmlns:rsp="${NS.rsp}" ` +
  `xmlns:p="${NS.p}"><s:Header><a:Action>`;

/** Windows writes message ids as upper-case uuids. */
export function messageId(): string {
  return `uuid:${crypto.randomUUID().toUpperCase()}`;
}

export function envelope(action: string, relatesTo: string | undefined, body: string): string {
  return ENVELOPE_OPEN + action + "</a:Action><a:MessageID>" + messageId() +
    `</a:MessageID><a:To>${NS.anonymous}</a:To>` +
    (relatesTo ? `<a:RelatesTo>${escapeXml(relatesTo)}</a:RelatesTo>` : "") +
    "</s:Header><s:Body>" + body + "</s:Body></s:Envelope>";
}
