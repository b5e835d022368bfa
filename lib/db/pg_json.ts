/**
 * JSON text that PostgreSQL's `json` and `jsonb` accept, whatever strings the value holds.
 *
 * `JSON.stringify` writes a NUL as `\u0000` and a lone UTF-16 surrogate as `\udXXX` (a string
 * cut in the middle of an emoji, or a monitored host's text), and PostgreSQL refuses both
 * ("unsupported Unicode escape sequence"), failing the whole statement: one such string in a
 * result batch (an event log message, a process name, an error text a host wrote) cost every
 * row of the batch, and the batch was retried until dead-lettered. Both become U+FFFD.
 *
 * Most texts hold no `\u` at all (the stringifier escapes only control characters and lone
 * surrogates that way), so the usual cost is one `includes`.
 */
export function pgJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.includes("\\u") ? text.replace(REFUSED_ESCAPE, replaceEscape) : text;
}

/** A backslash run, then `u0000` or a surrogate's code unit. */
const REFUSED_ESCAPE = /\\+u(?:0000|d[89a-f][0-9a-f]{2})/gi;

function replaceEscape(match: string): string {
  const slashes = match.length - 5;
  // an even run is escaped backslashes followed by the letter u: text, not an escape
  return slashes % 2 === 1 ? `${match.slice(0, slashes - 1)}\\ufffd` : match;
}
