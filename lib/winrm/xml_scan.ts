/**
 * A small strict XML scanner for WS-Man responses, producing the same tree fast-xml-parser
 * does with parse.ts's options (local names, "@attr" keys, "#text", repeated elements as
 * arrays, text kept as trimmed strings, xmlns attributes dropped).
 *
 * Why it exists: a poll must cost under 1 ms of client CPU, and fast-xml-parser 5 spends
 * 80-180 µs on one 2 KB response here (five per poll), more than the whole rest of the
 * request. WS-Man responses are machine-written (no DTD, no mixed content), so a single
 * indexOf-driven pass is enough; it is ~10x faster. parse.ts falls back to fast-xml-parser
 * for anything this scanner does not handle (DOCTYPE), and the tests check both parsers give
 * identical trees on every fixture.
 */

// deno-lint-ignore no-explicit-any
type Node = any;

export class XmlScanError extends Error {
  override name = "XmlScanError";
}

/** Thrown for constructs left to the full parser. */
export class XmlUnsupported extends Error {}

interface Frame {
  name: string;
  obj: Record<string, Node> | null;
  text: string;
}

/**
 * Elements nested deeper than this are refused: a WS-Man response nests ~10 deep (an embedded
 * instance a few more), and the tree's readers (parse.ts) recurse, so a peer's 10,000 nested
 * tags would overflow the stack instead of failing as a malformed response. fast-xml-parser,
 * the fallback, refuses deep nesting too.
 */
export const MAX_DEPTH = 100;

const ENTITIES: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
const ENTITY = /&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g;

function decode(s: string): string {
  if (s.indexOf("&") < 0) return s;
  return s.replace(ENTITY, (m, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return ENTITIES[e] ?? m;
  });
}

function localName(qname: string): string {
  const colon = qname.indexOf(":");
  return colon < 0 ? qname : qname.slice(colon + 1);
}

function addChild(parent: Frame, name: string, value: Node) {
  const obj = parent.obj ??= {};
  const prev = obj[name];
  if (prev === undefined) obj[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else obj[name] = [prev, value];
}

/** Whitespace as XML defines it (S: space, tab, CR, LF). */
function isSpace(c: number): boolean {
  return c === 32 || c === 10 || c === 13 || c === 9;
}

/**
 * Attributes of the start tag between `from` and its closing `end` ('>' or '/>'), read in
 * place: name, optional whitespace, '=', optional whitespace, a quoted value.
 */
function parseAttrs(frame: Frame, xml: string, from: number, end: number) {
  let i = from;
  for (;;) {
    while (i < end && isSpace(xml.charCodeAt(i))) i++;
    if (i >= end) return;
    const nameStart = i;
    let colon = -1;
    for (; i < end; i++) {
      const c = xml.charCodeAt(i);
      if (c === 61 /* = */ || isSpace(c)) break;
      if (c === 58 /* : */ && colon < 0) colon = i;
    }
    const nameEnd = i;
    while (i < end && isSpace(xml.charCodeAt(i))) i++;
    if (xml.charCodeAt(i) !== 61 || nameEnd === nameStart) {
      throw new XmlScanError("malformed attribute");
    }
    i++;
    while (i < end && isSpace(xml.charCodeAt(i))) i++;
    const quote = xml.charCodeAt(i);
    if (quote !== 34 && quote !== 39) throw new XmlScanError("attribute value without quotes");
    const close = xml.indexOf(quote === 34 ? '"' : "'", i + 1);
    if (close < 0 || close >= end) throw new XmlScanError("unterminated attribute value");
    const xmlns = colon < 0
      ? nameEnd - nameStart === 5 && xml.startsWith("xmlns", nameStart)
      : colon - nameStart === 5 && xml.startsWith("xmlns", nameStart);
    if (!xmlns) {
      const local = xml.slice(colon < 0 ? nameStart : colon + 1, nameEnd);
      (frame.obj ??= {})["@" + local] = decode(xml.slice(i + 1, close)).trim();
    }
    i = close + 1;
  }
}

function close(frame: Frame): Node {
  const text = frame.text.trim();
  if (!frame.obj) return text;
  if (text) frame.obj["#text"] = text;
  return frame.obj;
}

/** The '>' ending the start tag at `lt`, skipping any inside quoted attribute values. */
function tagEnd(xml: string, lt: number): number {
  let gt = xml.indexOf(">", lt);
  let quote = 0;
  for (let i = lt + 1; gt >= 0;) {
    for (; i < gt; i++) {
      const c = xml.charCodeAt(i);
      if (quote) {
        if (c === quote) quote = 0;
      } else if (c === 34 || c === 39) quote = c;
    }
    if (!quote) return gt;
    i = gt + 1;
    gt = xml.indexOf(">", i);
  }
  return -1;
}

/** Whether the end tag ending at `gt` (`</name>`, `</p:name>`, `</name >`) closes `name`. */
function endTagMatches(xml: string, lt: number, gt: number, name: string): boolean {
  let end = gt;
  while (end > lt + 2 && isSpace(xml.charCodeAt(end - 1))) end--;
  const start = end - name.length;
  if (start < lt + 2 || !xml.startsWith(name, start)) return false;
  if (start === lt + 2) return true;
  // a prefix: a name without ':' or whitespace, then ':'
  if (xml.charCodeAt(start - 1) !== 58) return false;
  for (let i = lt + 2; i < start - 1; i++) {
    const c = xml.charCodeAt(i);
    if (c === 58 || isSpace(c)) return false;
  }
  return start - 1 > lt + 2;
}

export function scanXml(xml: string): Node {
  const root: Frame = { name: "", obj: null, text: "" };
  const stack: Frame[] = [root];
  let top = root;
  let pos = 0;
  const len = xml.length;
  while (pos < len) {
    const lt = xml.indexOf("<", pos);
    if (lt < 0) {
      if (xml.slice(pos).trim()) throw new XmlScanError("text after the document element");
      break;
    }
    if (lt > pos && top !== root) top.text += decode(xml.slice(pos, lt));
    const c = xml.charCodeAt(lt + 1);
    if (c === 47 /* / */) {
      const gt = xml.indexOf(">", lt);
      if (gt < 0) throw new XmlScanError("unterminated end tag");
      if (top === root || !endTagMatches(xml, lt, gt, top.name)) {
        throw new XmlScanError(`mismatched end tag </${localName(xml.slice(lt + 2, gt).trim())}>`);
      }
      stack.pop();
      const parent = stack[stack.length - 1];
      addChild(parent, top.name, close(top));
      top = parent;
      pos = gt + 1;
      continue;
    }
    if (c === 63 /* ? */) {
      const end = xml.indexOf("?>", lt);
      if (end < 0) throw new XmlScanError("unterminated processing instruction");
      pos = end + 2;
      continue;
    }
    if (c === 33 /* ! */) {
      if (xml.startsWith("<!--", lt)) {
        const end = xml.indexOf("-->", lt);
        if (end < 0) throw new XmlScanError("unterminated comment");
        pos = end + 3;
        continue;
      }
      if (xml.startsWith("<![CDATA[", lt)) {
        const end = xml.indexOf("]]>", lt);
        if (end < 0) throw new XmlScanError("unterminated CDATA section");
        if (top !== root) top.text += xml.slice(lt + 9, end);
        pos = end + 3;
        continue;
      }
      throw new XmlUnsupported("DOCTYPE");
    }
    // the name runs to whitespace, '/' or '>'; its local part follows the first ':'
    let sp = lt + 1;
    let colon = -1;
    for (; sp < len; sp++) {
      const ch = xml.charCodeAt(sp);
      if (ch === 62 || ch === 47 || ch <= 32) break;
      if (ch === 58 && colon < 0) colon = sp;
    }
    const plain = xml.charCodeAt(sp) === 62; // no attributes: the common case
    const gt = plain ? sp : tagEnd(xml, lt);
    if (gt < 0) throw new XmlScanError("unterminated start tag");
    const selfClosing = xml.charCodeAt(gt - 1) === 47;
    const name = xml.slice(colon < 0 ? lt + 1 : colon + 1, sp);
    if (!name) throw new XmlScanError("empty tag name");
    if (top === root && root.obj) throw new XmlScanError("more than one document element");
    const frame: Frame = { name, obj: null, text: "" };
    if (!plain) parseAttrs(frame, xml, sp, selfClosing ? gt - 1 : gt);
    if (selfClosing) {
      addChild(top, name, frame.obj ?? "");
    } else {
      if (stack.length > MAX_DEPTH) {
        throw new XmlScanError(`elements nested deeper than ${MAX_DEPTH}`);
      }
      stack.push(frame);
      top = frame;
    }
    pos = gt + 1;
  }
  if (top !== root) throw new XmlScanError(`unclosed element <${top.name}> (truncated)`);
  if (!root.obj) throw new XmlScanError("no document element");
  return root.obj;
}
