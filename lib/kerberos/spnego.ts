/**
 * SPNEGO (RFC 4178) for Kerberos under HTTP `Negotiate`: the NegTokenInit that carries the
 * AP-REQ as its optimistic mechToken, and the acceptor's NegTokenResp (negState,
 * supportedMech, the AP-REP, an optional mechListMIC over the offered mechTypes).
 */
import { ctx, Der, octets, seq, tlv } from "./asn1.ts";
import { equal } from "./crypto.ts";
import { KRB5_OID, MS_KRB5_OID } from "./gss.ts";
import { KerberosProtocolError } from "./errors.ts";

const SPNEGO_OID = new Uint8Array([0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);

export const NEG_STATE = { acceptCompleted: 0, acceptIncomplete: 1, reject: 2, requestMic: 3 };

/** DER of the MechTypeList we offer: Kerberos V5 alone (what the mechListMIC covers). */
export const MECH_TYPES = seq(KRB5_OID);

export function negTokenInit(mechToken: Uint8Array): Uint8Array {
  return tlv(0x60, SPNEGO_OID, ctx(0, seq(ctx(0, MECH_TYPES), ctx(2, octets(mechToken)))));
}

export interface NegTokenResp {
  negState: number | null;
  supportedMech: Uint8Array | null;
  responseToken: Uint8Array | null;
  mechListMic: Uint8Array | null;
}

export function isSpnegoInit(b: Uint8Array): boolean {
  if (b[0] !== 0x60) return false;
  try {
    const app = Der.read(b);
    return equal(Der.read(b, app.start, app.end).raw, SPNEGO_OID);
  } catch {
    return false;
  }
}

export function readNegTokenResp(b: Uint8Array): NegTokenResp {
  const outer = Der.read(b).expect(0xa1, "NegTokenResp");
  const f = outer.inner().fields("NegTokenResp");
  const state = f.get(0);
  if (state && (state.tag !== 0x0a || state.end - state.start !== 1)) {
    throw new KerberosProtocolError("SPNEGO negState is not an ENUMERATED");
  }
  return {
    negState: state ? b[state.start] : null,
    supportedMech: f.get(1)?.expect(0x06, "supportedMech").raw ?? null,
    responseToken: f.get(2)?.octets() ?? null,
    mechListMic: f.get(3)?.octets() ?? null,
  };
}

/** The acceptor's side: the mechTypes (DER) and the optimistic mechToken of a NegTokenInit. */
export function readNegTokenInit(
  b: Uint8Array,
): { mechTypes: Uint8Array; mechToken: Uint8Array | null } {
  const app = Der.read(b).expect(0x60, "SPNEGO token");
  const oid = Der.read(b, app.start, app.end);
  if (!equal(oid.raw, SPNEGO_OID)) throw new KerberosProtocolError("not a SPNEGO token");
  const init = Der.read(b, oid.end, app.end).expect(0xa0, "NegTokenInit");
  const f = init.inner().fields("NegTokenInit");
  const types = f.get(0);
  if (!types) throw new KerberosProtocolError("NegTokenInit without mechTypes");
  return { mechTypes: types.raw, mechToken: f.get(2)?.octets() ?? null };
}

/** True when the mechTypes DER lists Kerberos V5 (either OID Windows uses). */
export function offersKerberos(mechTypes: Uint8Array): boolean {
  return Der.read(mechTypes).children().some((m) =>
    equal(m.raw, KRB5_OID) || equal(m.raw, MS_KRB5_OID)
  );
}

export function negTokenResp(r: Partial<NegTokenResp>): Uint8Array {
  const parts: Uint8Array[] = [];
  if (r.negState !== undefined && r.negState !== null) {
    parts.push(ctx(0, new Uint8Array([0x0a, 0x01, r.negState])));
  }
  if (r.supportedMech) parts.push(ctx(1, r.supportedMech));
  if (r.responseToken) parts.push(ctx(2, octets(r.responseToken)));
  if (r.mechListMic) parts.push(ctx(3, octets(r.mechListMic)));
  return tlv(0xa1, seq(...parts));
}
