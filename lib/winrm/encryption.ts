/**
 * MS-WSMV §2.2.9.1.1 message encryption framing: a multipart/encrypted body
 * whose binary part is <u32 LE sig len><NTLM signature><sealed SOAP>, or under Kerberos
 * <u32 LE header len><Wrap token header><sealed SOAP> (the same layout, a longer header).
 * Parsing works on bytes because the sealed part is arbitrary binary.
 */
import type { NtlmSession } from "./ntlm/session.ts";
import { NtlmIntegrityError, NtlmProtocolError } from "./ntlm/errors.ts";
import { concatBytes } from "./ntlm/wire.ts";

export const ENCRYPTED_CONTENT_TYPE =
  'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"';

/**
 * What seals one connection's messages: an NTLM session (16-byte signature, labelled
 * HTTP-SPNEGO-session-encrypted) or a Kerberos context (Wrap token header, see
 * kerberos_auth.ts), which names its own label and header length.
 */
export interface Sealer {
  sealInto(plain: Uint8Array, out: Uint8Array, at: number, sig: Uint8Array, sigAt: number): void;
  unseal(sealed: Uint8Array, signature: Uint8Array): Uint8Array;
  unsealWith<T>(sealed: Uint8Array, signature: Uint8Array, use: (plain: Uint8Array) => T): T;
  /** e.g. "application/HTTP-Kerberos-session-encrypted"; NTLM's when absent */
  readonly protocol?: string;
  /** bytes before the sealed data; 16 (NTLM) when absent */
  readonly signatureLength?: number;
}

const SPNEGO_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted";

/** The Content-Type of a body sealed by `sealer`. */
export function encryptedContentType(sealer: { protocol?: string }): string {
  return `multipart/encrypted;protocol="${
    sealer.protocol ?? SPNEGO_PROTOCOL
  }";boundary="Encrypted Boundary"`;
}

const te = new TextEncoder();
const BOUNDARY = te.encode("--Encrypted Boundary\r\n");
const BOUNDARY_ALT = te.encode("-- Encrypted Boundary\r\n"); // Windows client (WSMV §4.5)
const END = te.encode("--Encrypted Boundary--\r\n");
const END_ALT = te.encode("-- Encrypted Boundary--\r\n");
const PART2 = te.encode("--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n");
const SIG_LEN = 16;
const latin1 = new TextDecoder("latin1");

/** Returns the whole multipart body. */
export function encryptMessage(
  session: NtlmSession | Sealer,
  soap: Uint8Array,
  charset: "UTF-8" | "UTF-16" = "UTF-8",
): Uint8Array {
  const out = new Uint8Array(encryptedLength(soap.length, charset, session as Sealer));
  encryptMessageInto(session, soap, out, 0, charset);
  return out;
}

function partHead(soapLength: number, charset: string, protocol = SPNEGO_PROTOCOL): string {
  // ASCII only, so the string's length is its byte length
  return "--Encrypted Boundary\r\n" +
    `\tContent-Type: ${protocol}\r\n` +
    `\tOriginalContent: type=application/soap+xml;charset=${charset};Length=${soapLength}\r\n`;
}

/** Byte length of the multipart body that seals a `soapLength`-byte message. */
export function encryptedLength(
  soapLength: number,
  charset: "UTF-8" | "UTF-16" = "UTF-8",
  sealer?: { protocol?: string; signatureLength?: number },
) {
  return partHead(soapLength, charset, sealer?.protocol).length + PART2.length + 4 +
    (sealer?.signatureLength ?? SIG_LEN) + soapLength + END.length;
}

/**
 * Seals `soap` (next in the session's sequence) and writes the multipart body to out[at..]
 * (encryptedLength bytes), so that a request is built in one array; returns the end offset.
 */
export function encryptMessageInto(
  session: NtlmSession | Sealer,
  soap: Uint8Array,
  out: Uint8Array,
  at: number,
  charset: "UTF-8" | "UTF-16" = "UTF-8",
): number {
  const sealer = session as Sealer;
  const head = partHead(soap.length, charset, sealer.protocol);
  const sigLen = sealer.signatureLength ?? SIG_LEN;
  te.encodeInto(head, out.subarray(at));
  let o = at + head.length;
  out.set(PART2, o);
  o += PART2.length;
  new DataView(out.buffer, out.byteOffset + o, 4).setUint32(0, sigLen, true);
  o += 4;
  const sigAt = o;
  o += sigLen;
  session.sealInto(soap, out, o, out, sigAt);
  o += soap.length;
  out.set(END, o);
  return o + END.length;
}

/** Verifies signature and Length=; throws typed errors on garbage/truncation/tamper. */
export function decryptMessage(session: NtlmSession | Sealer, body: Uint8Array): Uint8Array {
  return decryptMessageWith(session, body, (plain) => plain.slice());
}

/**
 * decryptMessage that hands the plaintext to `use` as a view valid only during the call
 * (decode it there, without a copy) and returns what `use` returns.
 */
export function decryptMessageWith<T>(
  session: NtlmSession | Sealer,
  body: Uint8Array,
  use: (plain: Uint8Array) => T,
): T {
  const chunks: Uint8Array[] = [];
  let pos = skipCrlf(body, 0);
  // Each chunk is a header part followed by an octet-stream part; NTLM uses one chunk.
  for (;;) {
    pos = expectBoundary(body, pos);
    const { lines, next } = readHeaders(body, pos);
    const original = lines.find((l) => /^OriginalContent:/i.test(l));
    const m = original?.match(/;\s*Length=(\d+)/i);
    if (!m) throw new NtlmProtocolError("encrypted message lacks OriginalContent Length");
    const length = Number(m[1]);
    pos = expectBoundary(body, next);
    const part2 = readHeaders(body, pos, 1);
    if (!part2.lines.some((l) => /^Content-Type:\s*application\/octet-stream/i.test(l))) {
      throw new NtlmProtocolError("encrypted message lacks the octet-stream part");
    }
    pos = part2.next;
    if (pos + 4 > body.length) throw new NtlmProtocolError("encrypted message truncated");
    const sigLen = new DataView(body.buffer, body.byteOffset + pos, 4).getUint32(0, true);
    // NTLM's signature is 16 bytes; a Kerberos Wrap header's length depends on its enctype.
    const fixed = (session as Sealer).signatureLength === undefined;
    if (fixed ? sigLen !== SIG_LEN : sigLen < 16 || sigLen > 1024) {
      throw new NtlmProtocolError("unexpected signature length");
    }
    pos += 4;
    const sigEnd = pos + sigLen;
    // The sealed data runs to the next boundary; find it from Length, then confirm.
    const end = sigEnd + length;
    if (end > body.length) {
      throw new NtlmIntegrityError("encrypted message shorter than its declared Length");
    }
    const last = startsWith(body, end, END) || startsWith(body, end, END_ALT) ||
      atFinalBoundaryWithoutCrlf(body, end);
    const more = !last && (startsWith(body, end, BOUNDARY) || startsWith(body, end, BOUNDARY_ALT));
    if (!last && !more) {
      throw new NtlmIntegrityError("encrypted payload length does not match its declared Length");
    }
    const signature = body.subarray(pos, sigEnd);
    const sealed = body.subarray(sigEnd, end);
    if (last && !chunks.length) return session.unsealWith(sealed, signature, use); // the usual case
    if (chunks.length >= MAX_CHUNKS) {
      throw new NtlmProtocolError(`encrypted message in more than ${MAX_CHUNKS} chunks`);
    }
    chunks.push(session.unseal(sealed, signature));
    if (last) break;
    pos = end;
  }
  return use(concatBytes(...chunks));
}

/** "-- Encrypted Boundary--" and whatever white space a server leaves after it */
const FINAL_BOUNDARY_ROOM = 64;

/**
 * Chunks one message may come in. NTLM seals a message as one; Kerberos in pieces of its own
 * size. A host that cut its answer into thousands made the client unseal each on its own.
 */
export const MAX_CHUNKS = 256;

function startsWith(b: Uint8Array, at: number, p: Uint8Array): boolean {
  if (at + p.length > b.length) return false;
  for (let i = 0; i < p.length; i++) if (b[at + i] !== p[i]) return false;
  return true;
}

/**
 * Tolerates a closing boundary without the trailing CRLF at the very end of the body. Only a
 * short rest can be that: decoding the whole rest at every chunk made a body of 1,600 one-byte
 * chunks cost ~0.6 s (the work grew with the square of the chunks).
 */
function atFinalBoundaryWithoutCrlf(b: Uint8Array, at: number): boolean {
  if (b.length - at > FINAL_BOUNDARY_ROOM) return false;
  const tail = new TextDecoder().decode(b.subarray(at)).trimEnd();
  return tail === "--Encrypted Boundary--" || tail === "-- Encrypted Boundary--";
}

function skipCrlf(b: Uint8Array, at: number): number {
  while (at < b.length && (b[at] === 0x0d || b[at] === 0x0a)) at++;
  return at;
}

function expectBoundary(b: Uint8Array, at: number): number {
  if (startsWith(b, at, BOUNDARY)) return at + BOUNDARY.length;
  if (startsWith(b, at, BOUNDARY_ALT)) return at + BOUNDARY_ALT.length;
  throw new NtlmProtocolError("encrypted message boundary missing");
}

/**
 * Reads CRLF-terminated header lines (optionally TAB-prefixed) until the next
 * boundary, or exactly `count` lines (the binary follows with no blank line).
 */
function readHeaders(
  b: Uint8Array,
  at: number,
  count = Infinity,
): { lines: string[]; next: number } {
  const lines: string[] = [];
  while (lines.length < count) {
    if (b[at] === 0x2d && b[at + 1] === 0x2d) break; // "--": next boundary
    let eol = -1;
    for (let i = at; i + 1 < b.length && i < at + 1024; i++) {
      if (b[i] === 0x0d && b[i + 1] === 0x0a) {
        eol = i;
        break;
      }
    }
    if (eol < 0) throw new NtlmProtocolError("encrypted message header truncated");
    lines.push(latin1.decode(b.subarray(at, eol)).trim());
    at = eol + 2;
  }
  return { lines, next: at };
}
