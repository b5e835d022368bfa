/**
 * A small validator for the part of OpenAPI 3.0 schemas NMSlite's document uses: $ref, type,
 * nullable, enum, format date-time, properties / required / additionalProperties, items,
 * anyOf / oneOf / allOf, numeric and length bounds, pattern. Strict in one way JSON Schema is
 * not: an object schema listing `properties` without `additionalProperties` refuses properties
 * it does not list, so the document cannot leave out what the API sends.
 */
// deno-lint-ignore-file no-explicit-any
export type Schema = Record<string, any>;

export interface OpenApiDocument {
  paths: Record<string, Record<string, any>>;
  components?: { schemas?: Record<string, Schema> };
}

/** Every problem found, as "path: message"; empty when `value` matches `schema`. */
export function validate(doc: OpenApiDocument, schema: Schema, value: unknown): string[] {
  const errors: string[] = [];
  check(doc, schema, value, "$", errors);
  return errors;
}

function resolve(doc: OpenApiDocument, schema: Schema): Schema {
  let s = schema;
  for (let i = 0; s?.$ref && i < 32; i++) {
    const m = /^#\/components\/schemas\/(.+)$/.exec(s.$ref);
    const target = m ? doc.components?.schemas?.[decodeURIComponent(m[1])] : undefined;
    if (!target) throw new Error(`unresolvable $ref ${s.$ref}`);
    s = target;
  }
  return s;
}

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

const DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

function check(
  doc: OpenApiDocument,
  raw: Schema,
  value: unknown,
  at: string,
  errors: string[],
  alsoAllowed: ReadonlySet<string> = new Set(),
) {
  const s = resolve(doc, raw);
  if (value === null) {
    if (s.nullable === true) return;
    if (s.type === undefined && !s.anyOf && !s.oneOf && !s.allOf && s.enum === undefined) return;
    if (s.anyOf || s.oneOf) {
      const alts = (s.anyOf ?? s.oneOf) as Schema[];
      if (alts.some((a) => validate(doc, a, null).length === 0)) return;
    }
    if (s.enum?.includes(null)) return;
    errors.push(`${at}: null where the document does not allow it (${describe(s)})`);
    return;
  }
  if (s.allOf) {
    // Each part may list only some of the object's properties (zod's .extend() of a component).
    const names = new Set<string>([...alsoAllowed, ...Object.keys(s.properties ?? {})]);
    for (const sub of s.allOf) {
      for (const k of Object.keys(resolve(doc, sub).properties ?? {})) names.add(k);
    }
    for (const sub of s.allOf) check(doc, sub, value, at, errors, names);
    alsoAllowed = names;
  }
  if (s.anyOf || s.oneOf) {
    const alts = (s.anyOf ?? s.oneOf) as Schema[];
    const matching = alts.filter((a) => validate(doc, a, value).length === 0).length;
    if (matching === 0 || (s.oneOf && matching > 1)) {
      errors.push(`${at}: matches ${matching} of the ${s.anyOf ? "anyOf" : "oneOf"} schemas`);
    }
  }
  if (s.enum && !s.enum.some((e: unknown) => e === value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(s.enum)}`);
  }
  const actual = typeOf(value);
  if (s.type !== undefined) {
    const ok = s.type === actual || (s.type === "number" && actual === "integer");
    if (!ok) {
      errors.push(`${at}: ${actual} where the document says ${s.type}`);
      return;
    }
  }
  if (typeof value === "string") {
    if (s.format === "date-time" && !DATE_TIME.test(value)) {
      errors.push(`${at}: "${value}" is not a date-time`);
    }
    if (s.minLength !== undefined && value.length < s.minLength) {
      errors.push(`${at}: shorter than ${s.minLength}`);
    }
    if (s.maxLength !== undefined && value.length > s.maxLength) {
      errors.push(`${at}: longer than ${s.maxLength}`);
    }
    if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(value)) {
      errors.push(`${at}: does not match ${s.pattern}`);
    }
  }
  if (typeof value === "number") {
    if (s.minimum !== undefined) {
      const bad = s.exclusiveMinimum === true ? value <= s.minimum : value < s.minimum;
      if (bad) errors.push(`${at}: ${value} below the minimum ${s.minimum}`);
    }
    if (typeof s.exclusiveMinimum === "number" && value <= s.exclusiveMinimum) {
      errors.push(`${at}: ${value} not above ${s.exclusiveMinimum}`);
    }
    if (s.maximum !== undefined) {
      const bad = s.exclusiveMaximum === true ? value >= s.maximum : value > s.maximum;
      if (bad) errors.push(`${at}: ${value} above the maximum ${s.maximum}`);
    }
  }
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems) {
      errors.push(`${at}: fewer than ${s.minItems} items`);
    }
    if (s.maxItems !== undefined && value.length > s.maxItems) {
      errors.push(`${at}: more than ${s.maxItems} items`);
    }
    if (s.items) value.forEach((v, i) => check(doc, s.items, v, `${at}[${i}]`, errors));
  }
  if (actual === "object") {
    const obj = value as Record<string, unknown>;
    for (const name of s.required ?? []) {
      if (!(name in obj)) errors.push(`${at}: required property "${name}" is missing`);
    }
    const props: Record<string, Schema> = s.properties ?? {};
    for (const [k, v] of Object.entries(obj)) {
      if (props[k]) check(doc, props[k], v, `${at}.${k}`, errors);
      else if (typeof s.additionalProperties === "object") {
        check(doc, s.additionalProperties, v, `${at}.${k}`, errors);
      } else if (alsoAllowed.has(k)) continue;
      else if (
        s.additionalProperties === false ||
        (s.properties && s.additionalProperties === undefined)
      ) errors.push(`${at}: property "${k}" is not in the document`);
    }
  }
}

function describe(s: Schema): string {
  return JSON.stringify(Object.fromEntries(Object.entries(s).filter(([k]) => k !== "properties")))
    .slice(0, 120);
}

/** The schema the document gives an operation's response with `status`, if any. */
export function responseSchema(
  doc: OpenApiDocument,
  method: string,
  path: string,
  status: number,
): { documented: boolean; schema?: Schema } {
  const op = doc.paths[path]?.[method.toLowerCase()];
  const res = op?.responses?.[String(status)];
  if (!res) return { documented: false };
  return { documented: true, schema: res.content?.["application/json"]?.schema };
}
