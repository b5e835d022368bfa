/**
 * WS-Management dispatch for one simulated host: WQL Enumerate / Pull / Release and Get over
 * the WMI classes. Response shapes follow real Windows captures (REFERENCE §2): the first
 * batch sits in `w:Items` of EnumerateResponse, later ones in `n:Items` of PullResponse.
 */
import { faultEnvelope, type FaultName } from "./faults.ts";
import type { HostState } from "./hosts.ts";
import { renderInstance, resolveProperties } from "./render.ts";
import { handleShell, isShellAction } from "./shell.ts";
import type { WmiClass } from "./wmi.ts";
import { CLASSES } from "./wmi_disk_net.ts";
import { evaluate, lowerBound, parseWql, WqlSyntaxError } from "./wql.ts";
import { ACTION, attribute, elementText, envelope, findElement, NS, selectors } from "./xml.ts";

export interface SoapResult {
  status: 200 | 400 | 500;
  xml: string;
}

const WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL";
/** Bytes of envelope around the items (header, wrappers); what a batch may not use. */
const ENVELOPE_OVERHEAD = 2048;

export function handleSoap(host: HostState, xml: string, now = Date.now()): SoapResult {
  const relatesTo = elementText(xml, "MessageID");
  const fault = (name: FaultName, message?: string): SoapResult => {
    host.stats.faults++;
    return { status: 500, xml: faultEnvelope(name, relatesTo, host.profile.name, message) };
  };
  if (!relatesTo) return fault("missingHeader");
  const action = elementText(xml, "Action");
  const resourceUri = elementText(xml, "ResourceURI") ?? "";
  const body = bodyOf(xml);
  if (action === undefined || body === undefined) return fault("schemaValidation");
  const ok = (responseAction: string, content: string): SoapResult => ({
    status: 200,
    xml: envelope(responseAction, relatesTo, content),
  });

  if (isShellAction(action, resourceUri)) {
    const r = handleShell(host, action, xml, body);
    if ("fault" in r) return fault(r.fault);
    return ok(r.action, r.body);
  }

  switch (action) {
    case ACTION.enumerate: {
      host.stats.enumerations++;
      const q = query(host, resourceUri, body);
      if (typeof q === "string") return fault(q);
      const items = q.cls.instances(host.profile, now, { since: q.since })
        .filter((inst) => !q.where || q.where((p) => inst[q.cls.byLower.get(p.toLowerCase())!]))
        .map((inst) => renderInstance(q.cls, inst, q.properties));
      const optimize = findElement(body, "OptimizeEnumeration") !== undefined;
      const endless = host.fault?.kind === "endless";
      const all = endless ? items.slice() : items;
      const first = optimize ? items.splice(0, batchSize(host, xml, body, items, 0)) : [];
      let content = "<n:EnumerateResponse>";
      if (optimize && items.length === 0 && !endless) {
        // Everything fit: the context comes back empty (txwinrm Win32_OperatingSystem capture).
        content += "<n:EnumerationContext></n:EnumerationContext><w:Items>" + first.join("") +
          "</w:Items><w:EndOfSequence/>";
      } else {
        const id = endless
          ? newContext(host, all, now, all.length ? first.length % all.length : 0)
          : newContext(host, items, now);
        content += `<n:EnumerationContext>${id}</n:EnumerationContext>` +
          (optimize ? "<w:Items>" + first.join("") + "</w:Items>" : "");
      }
      return ok(ACTION.enumerate + "Response", content + "</n:EnumerateResponse>");
    }
    case ACTION.pull: {
      host.stats.pulls++;
      const ctx = host.takeContext(elementText(body, "EnumerationContext") ?? "", now);
      if (!ctx) return fault("invalidEnumerationContext");
      const batch = ctx.items.slice(
        ctx.pos,
        ctx.pos + batchSize(host, xml, body, ctx.items, ctx.pos),
      );
      ctx.pos += batch.length;
      let content = "<n:PullResponse>";
      const endless = host.fault?.kind === "endless";
      if (ctx.pos < ctx.items.length || endless) {
        // A fresh id per Pull, as Windows does: clients must use the latest context.
        const id = newContext(
          host,
          ctx.items,
          now,
          ctx.items.length ? ctx.pos % ctx.items.length : 0,
        );
        content += `<n:EnumerationContext>${id}</n:EnumerationContext><n:Items>` +
          batch.join("") + "</n:Items>";
      } else {
        content += "<n:Items>" + batch.join("") + "</n:Items><n:EndOfSequence/>";
      }
      return ok(ACTION.pull + "Response", content + "</n:PullResponse>");
    }
    case ACTION.release: {
      if (!host.takeContext(elementText(body, "EnumerationContext") ?? "", now)) {
        return fault("invalidEnumerationContext");
      }
      return ok(ACTION.release + "Response", "");
    }
    case ACTION.get: {
      host.stats.gets++;
      if (!resourceUri.toLowerCase().startsWith(NS.wmiCimv2.toLowerCase())) {
        return fault("resourceNotFound");
      }
      const cls = CLASSES.get(resourceUri.slice(NS.wmiCimv2.length).toLowerCase());
      if (!cls) return fault("resourceNotFound");
      const inst = getInstance(cls, host, xml, now);
      if (!inst) return fault("invalidSelectors");
      return ok(ACTION.get + "Response", renderInstance(cls, inst, null));
    }
  }
  return fault("actionNotSupported");
}

function bodyOf(xml: string): string | undefined {
  const m = /<(?:[\w.-]+:)?Body(?:\s[^>]*)?(?:\/>|>([\s\S]*)<\/(?:[\w.-]+:)?Body\s*>)/.exec(xml);
  return m ? (m[1] ?? "") : undefined;
}

/**
 * Items for the next batch: at most MaxElements (absent means 1, WS-Enumeration), at most the
 * host's MaxBatchItems, and no more than fit in the client's MaxEnvelopeSize, as on Windows
 * (so even MaxElements=32000 can need Pulls). At least one item, or nothing would progress.
 */
function batchSize(
  host: HostState,
  xml: string,
  body: string,
  items: string[],
  start: number,
): number {
  const requested = Number(elementText(body, "MaxElements") ?? "1");
  const max = Math.min(
    Number.isInteger(requested) && requested > 0 ? requested : 1,
    host.maxBatchItems,
  );
  const envelope = Number(elementText(xml, "MaxEnvelopeSize") ?? "512000");
  let budget = (Number.isInteger(envelope) && envelope > 0 ? envelope : 512000) -
    ENVELOPE_OVERHEAD;
  let n = 0;
  while (n < max && start + n < items.length) {
    budget -= items[start + n].length;
    if (budget < 0 && n > 0) break;
    n++;
  }
  return n;
}

function newContext(host: HostState, items: string[], now: number, pos = 0): string {
  const id = `uuid:${crypto.randomUUID().toUpperCase()}`;
  host.addContext(id, { items, pos, touched: now });
  return id;
}

interface Query {
  cls: WmiClass;
  properties: string[] | null;
  where: ((get: (p: string) => unknown) => boolean) | null;
  /** a lower bound on TimeGenerated, for a class that generates its history */
  since?: number;
}

/** The WQL filter (or the class named by the resource URI); a fault name when it is bad. */
function query(host: HostState, resourceUri: string, body: string): Query | FaultName {
  const filter = findElement(body, "Filter");
  if (!filter) {
    if (!resourceUri.toLowerCase().startsWith(NS.wmiCimv2.toLowerCase())) {
      return "resourceNotFound";
    }
    const cls = CLASSES.get(resourceUri.slice(NS.wmiCimv2.length).toLowerCase());
    return cls ? { cls, properties: null, where: null } : "resourceNotFound";
  }
  const dialect = attribute(filter.attrs, "Dialect");
  if (dialect !== WQL_DIALECT || host.fault?.kind === "unknown-class") {
    return "cannotProcessFilter";
  }
  const parsed = parsedFilter(elementText(body, "Filter") ?? "");
  if (parsed === "cannotProcessFilter") return parsed;
  const cls = parsed.cls;
  // A host without the class (old Windows, counters disabled), or one that refuses it.
  const f = host.fault;
  if (
    f?.kind === "missing-class" &&
    f.classes.some((c) => c.toLowerCase() === cls.name.toLowerCase())
  ) {
    return "cannotProcessFilter";
  }
  if (
    f?.kind === "denied-class" &&
    f.classes.some((c) => c.toLowerCase() === cls.name.toLowerCase())
  ) {
    return "accessDenied";
  }
  return parsed.query ?? "cannotProcessFilter";
}

interface ParsedFilter {
  cls: WmiClass;
  /** null when the query names a property the class lacks */
  query: Query | null;
}

/**
 * WQL texts already parsed: a fleet asks every host the same four queries, and parsing them
 * per request was ~7 % of the simulator's CPU. A query object is only read by its users.
 */
const filters = new Map<string, ParsedFilter | "cannotProcessFilter">();

function parsedFilter(text: string): ParsedFilter | "cannotProcessFilter" {
  let parsed = filters.get(text);
  if (parsed === undefined) {
    parsed = parseFilter(text);
    if (filters.size >= 1024) filters.clear(); // event-log queries carry a time: all differ
    filters.set(text, parsed);
  }
  return parsed;
}

function parseFilter(text: string): ParsedFilter | "cannotProcessFilter" {
  try {
    const q = parseWql(text);
    const cls = CLASSES.get(q.className.toLowerCase());
    if (!cls) return "cannotProcessFilter";
    const properties = q.properties ? resolveProperties(cls, q.properties) : null;
    const cond = q.where;
    if (properties === undefined || (cond && !propertiesExist(cls, cond))) {
      return { cls, query: null };
    }
    return {
      cls,
      query: {
        cls,
        properties,
        where: cond ? (get) => evaluate(cond, get) : null,
        since: lowerBound(cond, "TimeGenerated"),
      },
    };
  } catch (err) {
    if (err instanceof WqlSyntaxError) return "cannotProcessFilter";
    throw err;
  }
}

function propertiesExist(cls: WmiClass, c: Parameters<typeof evaluate>[0]): boolean {
  if (c.kind === "cmp") return cls.byLower.has(c.prop.toLowerCase());
  if (c.kind === "not") return propertiesExist(cls, c.cond);
  return propertiesExist(cls, c.left) && propertiesExist(cls, c.right);
}

function getInstance(cls: WmiClass, host: HostState, xml: string, now: number) {
  const sel = [...selectors(xml)].filter(([k]) => !k.startsWith("__"));
  const all = cls.instances(host.profile, now);
  if (sel.length === 0) return cls.singleton ? all[0] : undefined;
  const keys = new Map(cls.keys.map((k) => [k.toLowerCase(), k]));
  if (sel.some(([k]) => !keys.has(k))) return undefined;
  return all.find((inst) =>
    sel.every(([k, v]) => String(inst[keys.get(k)!] ?? "").toLowerCase() === v.toLowerCase())
  );
}
