/**
 * SPNEGO (RFC 4178) just far enough to carry NTLM under HTTP `Negotiate`: a NegTokenInit
 * wrapping the NEGOTIATE message, NegTokenResp wrapping the CHALLENGE and AUTHENTICATE
 * messages. Windows takes raw NTLMSSP tokens as well as wrapped ones and answers in the form
 * it was sent; some peers wrap their answer whatever they were sent, so a client must read
 * both and answer in the form it was answered.
 *
 * Decoders check every length against the buffer: hostile input gives NtlmProtocolError.
 */
import { NtlmProtocolError } from "./errors.ts";
import { bytesToHex, concatBytes } from "./wire.ts";

/** DER of OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), tag and length included. */
export const NTLM_MECH_OID = new Uint8Array([
  0x06,
  0x0a,
  0x2b,
  0x06,
  0x01,
  0x04,
  0x01,
  0x82,
  0x37,
  0x02,
  0x02,
  0x0a,
]);
/** DER of OID 1.3.6.1.5.5.2 (SPNEGO). */
const SPNEGO_OID = new Uint8Array([0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);

export const NEG_STATE = {
  acceptCompleted: 0,
  acceptIncomplete: 1,
  reject: 2,
  requestMic: 3,
} as const;

/** What a Negotiate token turned out to be. */
export type NegotiateToken =
  | { form: "raw"; ntlm: Uint8Array }
  | { form: "init"; ntlm: Uint8Array | null; mechTypes: string[] }
  | {
    form: "resp";
    ntlm: Uint8Array | null;
    negState: number | null;
    supportedMech: string | null;
    mechListMic: Uint8Array | null;
  };

const NTLMSSP = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00];
const NTLM_OID_HEX = bytesToHex(NTLM_MECH_OID.subarray(2));

/** Hex of an OID's content bytes, the form mechTypes and supportedMech are compared in. */
export function isNtlmMech(oidHex: string): boolean {
  return oidHex === NTLM_OID_HEX;
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

function tlv(b: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new NtlmProtocolError("SPNEGO token truncated");
  const tag = b[at];
  let len = b[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > limit) throw new NtlmProtocolError("bad SPNEGO length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  if (p + len > limit) throw new NtlmProtocolError("SPNEGO token truncated");
  return { tag, start: p, end: p + len };
}

/** The context-tagged fields [n] of a SEQUENCE, by tag number. */
function fields(b: Uint8Array, seq: Tlv): Map<number, Tlv> {
  if (seq.tag !== 0x30) throw new NtlmProtocolError("SPNEGO token is not a SEQUENCE");
  const out = new Map<number, Tlv>();
  for (let at = seq.start; at < seq.end;) {
    const f = tlv(b, at, seq.end);
    if ((f.tag & 0xe0) === 0xa0) out.set(f.tag & 0x1f, f);
    at = f.end;
  }
  return out;
}

function octets(b: Uint8Array, field: Tlv | undefined): Uint8Array | null {
  if (!field) return null;
  const inner = tlv(b, field.start, field.end);
  if (inner.tag !== 0x04) throw new NtlmProtocolError("SPNEGO token field is not an OCTET STRING");
  return b.slice(inner.start, inner.end);
}

function oid(b: Uint8Array, at: Tlv): string {
  if (at.tag !== 0x06) throw new NtlmProtocolError("SPNEGO mechanism is not an OID");
  return bytesToHex(b.subarray(at.start, at.end));
}

/** Reads a `Negotiate` token: raw NTLMSSP, NegTokenInit or NegTokenResp. */
export function readNegotiateToken(b: Uint8Array): NegotiateToken {
  if (b.length >= 8 && NTLMSSP.every((x, i) => b[i] === x)) return { form: "raw", ntlm: b };
  if (b[0] === 0x60) {
    const app = tlv(b, 0, b.length);
    const mech = tlv(b, app.start, app.end);
    if (bytesToHex(b.subarray(app.start, mech.end)) !== bytesToHex(SPNEGO_OID)) {
      throw new NtlmProtocolError("a GSS-API token that is not SPNEGO (Kerberos?)");
    }
    const init = tlv(b, mech.end, app.end);
    if (init.tag !== 0xa0) throw new NtlmProtocolError("SPNEGO token is not a NegTokenInit");
    const f = fields(b, tlv(b, init.start, init.end));
    const mechTypes: string[] = [];
    const types = f.get(0);
    if (types) {
      const list = tlv(b, types.start, types.end);
      for (let at = list.start; at < list.end;) {
        const m = tlv(b, at, list.end);
        mechTypes.push(oid(b, m));
        at = m.end;
      }
    }
    return { form: "init", ntlm: octets(b, f.get(2)), mechTypes };
  }
  if (b[0] === 0xa1) {
    const resp = tlv(b, 0, b.length);
    const f = fields(b, tlv(b, resp.start, resp.end));
    let negState: number | null = null;
    const state = f.get(0);
    if (state) {
      const e = tlv(b, state.start, state.end);
      if (e.tag !== 0x0a || e.end - e.start !== 1) {
        throw new NtlmProtocolError("SPNEGO negState is not an ENUMERATED");
      }
      negState = b[e.start];
    }
    const mech = f.get(1);
    return {
      form: "resp",
      ntlm: octets(b, f.get(2)),
      negState,
      supportedMech: mech ? oid(b, tlv(b, mech.start, mech.end)) : null,
      mechListMic: octets(b, f.get(3)),
    };
  }
  throw new NtlmProtocolError("neither an NTLMSSP message nor an SPNEGO token");
}

function der(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  const n = body.length;
  const len = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 255]
    : [0x83, n >> 16, (n >> 8) & 255, n & 255];
  return concatBytes(new Uint8Array([tag, ...len]), body);
}

/** A NegTokenResp: negState, supportedMech (NTLM), responseToken and mechListMIC as given. */
export function negTokenResp(opts: {
  negState?: number;
  supportedMech?: boolean;
  responseToken?: Uint8Array;
  mechListMic?: Uint8Array;
}): Uint8Array {
  const parts: Uint8Array[] = [];
  if (opts.negState !== undefined) {
    parts.push(der(0xa0, new Uint8Array([0x0a, 0x01, opts.negState])));
  }
  if (opts.supportedMech) parts.push(der(0xa1, NTLM_MECH_OID));
  if (opts.responseToken) parts.push(der(0xa2, der(0x04, opts.responseToken)));
  if (opts.mechListMic) parts.push(der(0xa3, der(0x04, opts.mechListMic)));
  return der(0xa1, der(0x30, ...parts));
}

/** A NegTokenInit offering NTLM alone, with the NEGOTIATE message as its mechToken. */
export function negTokenInit(ntlm: Uint8Array): Uint8Array {
  const mechTypes = der(0xa0, der(0x30, NTLM_MECH_OID));
  return der(0x60, SPNEGO_OID, der(0xa0, der(0x30, mechTypes, der(0xa2, der(0x04, ntlm)))));
}
