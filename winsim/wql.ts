/**
 * A small WQL subset: `SELECT * | a, b FROM Class [WHERE cond {AND|OR cond}]`, where a condition
 * is `Prop op literal` (op = != <> < > <= >=), `Prop IS [NOT] NULL` or `NOT cond`, with
 * parentheses. Keywords and property names are case-insensitive, as in WMI; so are string
 * comparisons.
 */
export type Literal = string | number | boolean | null;

export type Condition =
  | { kind: "cmp"; prop: string; op: string; value: Literal }
  | { kind: "and" | "or"; left: Condition; right: Condition }
  | { kind: "not"; cond: Condition };

export interface WqlQuery {
  /** null means `SELECT *` */
  properties: string[] | null;
  className: string;
  where: Condition | null;
}

export class WqlSyntaxError extends Error {}

type Token = { t: "id" | "str" | "num" | "op" | "punct"; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re =
    /\s*(?:([A-Za-z_][\w.]*)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)|(<=|>=|<>|!=|=|<|>)|([,*()]))/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new WqlSyntaxError(`unexpected input at ${pos}: ${src.slice(pos, pos + 12)}`);
    pos = re.lastIndex;
    if (m[1] !== undefined) out.push({ t: "id", v: m[1] });
    else if (m[2] !== undefined) out.push({ t: "str", v: m[2].replace(/\\(.)/g, "$1") });
    else if (m[3] !== undefined) out.push({ t: "str", v: m[3].replace(/\\(.)/g, "$1") });
    else if (m[4] !== undefined) out.push({ t: "num", v: m[4] });
    else if (m[5] !== undefined) out.push({ t: "op", v: m[5] });
    else out.push({ t: "punct", v: m[6] });
  }
  return out;
}

export function parseWql(src: string): WqlQuery {
  const toks = tokenize(src);
  let i = 0;
  const peek = () => toks[i];
  const isKw = (kw: string) => peek()?.t === "id" && peek().v.toUpperCase() === kw;
  const expectKw = (kw: string) => {
    if (!isKw(kw)) throw new WqlSyntaxError(`expected ${kw}`);
    i++;
  };
  const ident = (): string => {
    const t = toks[i++];
    if (t?.t !== "id") throw new WqlSyntaxError("expected a name");
    return t.v;
  };

  expectKw("SELECT");
  let properties: string[] | null = null;
  if (peek()?.v === "*") i++;
  else {
    properties = [ident()];
    while (peek()?.v === ",") {
      i++;
      properties.push(ident());
    }
  }
  expectKw("FROM");
  const className = ident();
  let where: Condition | null = null;
  if (isKw("WHERE")) {
    i++;
    where = parseOr();
  }
  if (i < toks.length) throw new WqlSyntaxError(`unexpected ${toks[i].v}`);
  return { properties, className, where };

  function parseOr(): Condition {
    let left = parseAnd();
    while (isKw("OR")) {
      i++;
      left = { kind: "or", left, right: parseAnd() };
    }
    return left;
  }
  function parseAnd(): Condition {
    let left = parseUnary();
    while (isKw("AND")) {
      i++;
      left = { kind: "and", left, right: parseUnary() };
    }
    return left;
  }
  function parseUnary(): Condition {
    if (isKw("NOT")) {
      i++;
      return { kind: "not", cond: parseUnary() };
    }
    if (peek()?.v === "(") {
      i++;
      const c = parseOr();
      if (toks[i++]?.v !== ")") throw new WqlSyntaxError("expected )");
      return c;
    }
    const prop = ident();
    if (isKw("IS")) {
      i++;
      const negate = isKw("NOT");
      if (negate) i++;
      expectKw("NULL");
      return { kind: "cmp", prop, op: negate ? "<>" : "=", value: null };
    }
    const op = toks[i++];
    if (op?.t !== "op") throw new WqlSyntaxError("expected a comparison");
    return { kind: "cmp", prop, op: op.v === "!=" ? "<>" : op.v, value: literal() };
  }
  function literal(): Literal {
    const t = toks[i++];
    if (!t) throw new WqlSyntaxError("expected a value");
    if (t.t === "str") return t.v;
    if (t.t === "num") return Number(t.v);
    if (t.t === "id") {
      const u = t.v.toUpperCase();
      if (u === "TRUE") return true;
      if (u === "FALSE") return false;
      if (u === "NULL") return null;
    }
    throw new WqlSyntaxError(`bad value ${t.v}`);
  }
}

/** Instance values as the evaluator sees them: scalars only (arrays never match). */
export type Lookup = (prop: string) => unknown;

export function evaluate(cond: Condition, get: Lookup): boolean {
  switch (cond.kind) {
    case "and":
      return evaluate(cond.left, get) && evaluate(cond.right, get);
    case "or":
      return evaluate(cond.left, get) || evaluate(cond.right, get);
    case "not":
      return !evaluate(cond.cond, get);
    case "cmp":
      return compare(get(cond.prop), cond.op, cond.value);
  }
}

function compare(actual: unknown, op: string, want: Literal): boolean {
  if (want === null || actual === null || actual === undefined) {
    const bothNull = want === null && (actual === null || actual === undefined);
    return op === "=" ? bothNull : op === "<>" ? !bothNull : false;
  }
  let a: string | number;
  let b: string | number;
  if (
    typeof actual === "object" && typeof (actual as { datetime?: unknown }).datetime === "number"
  ) {
    // A datetime property against a DMTF string ('20261128075500.000000+000') or an ISO one.
    a = (actual as { datetime: number }).datetime;
    b = typeof want === "string" ? parseCimDatetime(want) : NaN;
    if (Number.isNaN(b)) return false;
  } else if (typeof want === "number" || typeof want === "boolean") {
    a = typeof actual === "boolean" ? Number(actual) : Number(actual);
    b = Number(want);
    if (Number.isNaN(a)) return false;
  } else if (typeof actual === "number" || typeof actual === "bigint") {
    a = Number(actual);
    b = Number(want);
    if (Number.isNaN(b)) return false;
  } else {
    a = String(actual).toLowerCase();
    b = want.toLowerCase();
  }
  switch (op) {
    case "=":
      return a === b;
    case "<>":
      return a !== b;
    case "<":
      return a < b;
    case ">":
      return a > b;
    case "<=":
      return a <= b;
    case ">=":
      return a >= b;
  }
  return false;
}

/** DMTF `yyyymmddHHMMSS.mmmmmmsUUU` (UUU: offset in minutes) or ISO 8601 → epoch ms. */
export function parseCimDatetime(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/.exec(s.trim());
  if (!m) return Date.parse(s);
  const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], Math.floor(+m[7] / 1000));
  return utc - (m[8] === "-" ? -1 : 1) * Number(m[9]) * 60_000;
}

/** The lower bound a condition puts on `prop` (`prop > x`, `prop >= x`, under ANDs). */
export function lowerBound(cond: Condition | null, prop: string): number | undefined {
  if (!cond) return undefined;
  if (cond.kind === "and") {
    const l = lowerBound(cond.left, prop);
    const r = lowerBound(cond.right, prop);
    return l === undefined ? r : r === undefined ? l : Math.max(l, r);
  }
  if (
    cond.kind === "cmp" && cond.prop.toLowerCase() === prop.toLowerCase() &&
    (cond.op === ">" || cond.op === ">=") && typeof cond.value === "string"
  ) {
    const t = parseCimDatetime(cond.value);
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}
