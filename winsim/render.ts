/**
 * Instance XML as Windows writes it: `SELECT *` gives a `p:<Class>` element in the class's own
 * namespace, a projection gives `w:XmlFragment` with unqualified children (REFERENCE §2).
 */
import type { CimDatetime, Instance, WmiClass, WmiValue } from "./wmi.ts";
import { escapeXml, NS } from "./xml.ts";

/** `2013-04-10T16:17:23.5Z`: Windows trims trailing zeros of the fraction. */
export function cimDatetime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2013-04-10T16:17:23.500Z
  const [main, frac] = iso.slice(0, -1).split(".");
  const f = frac.replace(/0+$/, "");
  return `${main}${f ? "." + f : ""}Z`;
}

function scalar(v: Exclude<WmiValue, null | WmiValue[]>, dtOpen: string, dtClose: string): string {
  switch (typeof v) {
    case "string":
      return escapeXml(v);
    case "number":
      return Number.isInteger(v) ? v.toFixed(0) : String(v);
    case "boolean":
      return v ? "true" : "false";
    default:
      return dtOpen + cimDatetime((v as CimDatetime).datetime) + dtClose;
  }
}

function property(
  prefix: string,
  name: string,
  v: WmiValue | undefined,
  cimPrefix: string,
): string {
  const tag = prefix + name;
  if (v === null || v === undefined) return `<${tag} xsi:nil="true"/>`;
  const dtOpen = `<${cimPrefix}Datetime>`;
  const dtClose = `</${cimPrefix}Datetime>`;
  // An array is the element repeated once per value.
  if (Array.isArray(v)) {
    return v.map((x) =>
      x === null || Array.isArray(x)
        ? `<${tag} xsi:nil="true"/>`
        : `<${tag}>${scalar(x, dtOpen, dtClose)}</${tag}>`
    ).join("");
  }
  return `<${tag}>${scalar(v, dtOpen, dtClose)}</${tag}>`;
}

const openTags = new Map<string, string>();

function starOpen(cls: WmiClass): string {
  let open = openTags.get(cls.name);
  if (!open) {
    open = `<p:${cls.name} xmlns:xsi="${NS.xsi}" xmlns:p="${NS.wmiCimv2}${cls.name}" ` +
      `xmlns:cim="${NS.cim}" xsi:type="p:${cls.name}_Type">`;
    openTags.set(cls.name, open);
  }
  return open;
}

const FRAGMENT_OPEN = `<w:XmlFragment xmlns:xsi="${NS.xsi}" xmlns:w="${NS.w}">`;

/**
 * Render one instance. `properties` are canonical names in output order; null means all
 * properties as `p:` elements (SELECT *), otherwise an XmlFragment.
 */
export function renderInstance(
  cls: WmiClass,
  inst: Instance,
  properties: string[] | null,
): string {
  if (properties === null) {
    let out = starOpen(cls);
    for (const p of cls.properties) out += property("p:", p, inst[p], "cim:");
    return out + `</p:${cls.name}>`;
  }
  let out = FRAGMENT_OPEN;
  for (const p of properties) out += property("", p, inst[p], "");
  return out + "</w:XmlFragment>";
}

/** Resolve user-written property names; undefined when one is not a property of the class. */
export function resolveProperties(cls: WmiClass, names: string[]): string[] | undefined {
  const out = new Set<string>();
  for (const n of names) {
    const canonical = cls.byLower.get(n.toLowerCase());
    if (!canonical) return undefined;
    out.add(canonical);
  }
  return [...out].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
}
