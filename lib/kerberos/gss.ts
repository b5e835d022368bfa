/**
 * The Kerberos V5 GSS-API mechanism (RFC 4121) for one security context: the initiator's
 * AP-REQ token with the 0x8003 authenticator checksum (flags and channel bindings), the
 * AP-REP check, and per-message Wrap (sealed) and MIC tokens with sequence numbers and the
 * acceptor subkey. AcceptorContext is the other side, for the simulator.
 */
import { randomBytes } from "node:crypto";
import { concat, Der, tlv } from "./asn1.ts";
import { checksum, equal, type Key, openRotated, randomKey, sealWrap, USAGE } from "./crypto.ts";
import { KerberosError, KerberosIntegrityError, KerberosProtocolError } from "./errors.ts";
import {
  AP_OPT_MUTUAL_REQUIRED,
  type ApRep,
  decodeApRep,
  decodeApReq,
  encodeApRep,
  encodeApReq,
  type PrincipalName,
  type ReceivedApReq,
  type Ticket,
} from "./messages.ts";

/** DER of OID 1.2.840.113554.1.2.2 (Kerberos V5), tag included. */
export const KRB5_OID = new Uint8Array([
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x86,
  0xf7,
  0x12,
  0x01,
  0x02,
  0x02,
]);
/** DER of OID 1.2.840.48018.1.2.2 (the one Windows names "MS KRB5"). */
export const MS_KRB5_OID = new Uint8Array([
  0x06,
  0x09,
  0x2a,
  0x86,
  0x48,
  0x82,
  0xf7,
  0x12,
  0x01,
  0x02,
  0x02,
]);

export const GSS_FLAG = { MUTUAL: 2, REPLAY: 4, SEQUENCE: 8, CONF: 16, INTEG: 32 } as const;
const TOK_AP_REQ = [0x01, 0x00];
const TOK_AP_REP = [0x02, 0x00];
const TOK_ERROR = [0x03, 0x00];
const CKSUM_GSS = 0x8003;
const WRAP_FLAG = { SENT_BY_ACCEPTOR: 1, SEALED: 2, ACCEPTOR_SUBKEY: 4 } as const;
const HEADER = 16;
const EMPTY = new Uint8Array(0);
/** The header of the Wrap token being sealed (copied into the crypto module at once). */
const WRAP_HEADER = new Uint8Array(HEADER);
/** 16-byte encrypted header copy + 12-byte HMAC: what Windows rotates to the front. */
const RRC = 28;

/** The InitialContextToken framing: [APPLICATION 0] { krb5 OID, TOK_ID, inner }. */
function frame(tokId: number[], inner: Uint8Array): Uint8Array {
  return tlv(0x60, KRB5_OID, new Uint8Array(tokId), inner);
}

/** The TOK_ID and inner message of a framed krb5 token. */
export function unframe(token: Uint8Array): { tokId: number; inner: Uint8Array } {
  const app = Der.read(token).expect(0x60, "GSS token");
  const oid = Der.read(token, app.start, app.end);
  if (!equal(oid.raw, KRB5_OID) && !equal(oid.raw, MS_KRB5_OID)) {
    throw new KerberosProtocolError("GSS token is not a Kerberos V5 token");
  }
  if (oid.end + 2 > app.end) throw new KerberosProtocolError("GSS token truncated");
  return {
    tokId: (token[oid.end] << 8) | token[oid.end + 1],
    inner: token.subarray(oid.end + 2, app.end),
  };
}

/** The 0x8003 checksum value: Lgth=16, Bnd (MD5 of the channel bindings, or zeros), Flags. */
function gssChecksum(bindings: Uint8Array | null, flags: number): Uint8Array {
  const out = new Uint8Array(24);
  const v = new DataView(out.buffer);
  v.setUint32(0, 16, true);
  if (bindings) out.set(bindings, 4);
  v.setUint32(20, flags, true);
  return out;
}

/** One direction's key and counter state, shared by both ends of the context. */
export abstract class SecurityContext {
  protected key!: Key;
  protected acceptorSubkey = false;
  protected sendSeq = 0;
  protected recvSeq = -1;
  protected abstract readonly isAcceptor: boolean;

  /**
   * A sealed Wrap token split as MS-WSMV sends it: `header` (token header, then the
   * RRC-rotated HMAC and encrypted header copy, then the encrypted confounder) and `data`
   * (the encrypted message, the same length as the plaintext). EC is 0 and RRC 28.
   */
  wrap(plain: Uint8Array, confounder?: Uint8Array): { header: Uint8Array; data: Uint8Array } {
    const header = new Uint8Array(HEADER + RRC + 16);
    const data = new Uint8Array(plain.length);
    this.wrapInto(plain, data, 0, header, 0, confounder);
    return { header, data };
  }

  /** wrap() written in place: the 60-byte header to sig[sigAt..], the data to out[at..]. */
  wrapInto(
    plain: Uint8Array,
    out: Uint8Array,
    at: number,
    sig: Uint8Array,
    sigAt: number,
    confounder?: Uint8Array,
  ): void {
    const hdr = this.#header(0x0504, 0, this.sendSeq++, WRAP_HEADER);
    const usage = this.isAcceptor ? USAGE.ACCEPTOR_SEAL : USAGE.INITIATOR_SEAL;
    // encrypts confounder ‖ plain ‖ hdr (RRC 0) and rotates the result right by RRC
    sealWrap(this.key, usage, plain, hdr, out, at, sig, sigAt, confounder);
  }

  /** The one-piece RFC 4121 Wrap token (header ‖ data). */
  wrapToken(plain: Uint8Array): Uint8Array {
    const { header, data } = this.wrap(plain);
    return concat(header, data);
  }

  /** Opens a sealed Wrap token from the peer (any EC and RRC), checking its sequence. */
  unwrap(token: Uint8Array): Uint8Array {
    return this.unwrapParts(token, EMPTY);
  }

  /** unwrap() of a token that arrives as two pieces (MS-WSMV: header, then sealed data). */
  unwrapParts(head: Uint8Array, tail: Uint8Array): Uint8Array {
    return this.unwrapPartsWith(head, tail, (plain) => plain.slice());
  }

  /**
   * unwrapParts() handing the plaintext to `use` as a view valid only during the call (it
   * lies in the crypto module's memory: decode or copy it there, and make no Kerberos crypto
   * call before); returns what `use` returns.
   */
  unwrapPartsWith<T>(head: Uint8Array, tail: Uint8Array, use: (plain: Uint8Array) => T): T {
    const total = head.length + tail.length;
    if (total < HEADER + 16 + 12 || head.length < HEADER) {
      throw new KerberosIntegrityError("Wrap token too short");
    }
    if (head[0] !== 0x05 || head[1] !== 0x04 || head[3] !== 0xff) {
      throw new KerberosProtocolError("not a Kerberos Wrap token");
    }
    const flags = head[2];
    this.#checkFlags(flags);
    if (!(flags & WRAP_FLAG.SEALED)) {
      throw new KerberosProtocolError("unsealed Wrap tokens are not accepted (WinRM seals)");
    }
    const ec = (head[4] << 8) | head[5];
    const rrc = (head[6] << 8) | head[7];
    // body = head[16..] ‖ tail, rotated right by RRC: un-rotated it is ciphertext ‖ HMAC
    const usage = this.isAcceptor ? USAGE.INITIATOR_SEAL : USAGE.ACCEPTOR_SEAL;
    const data = openRotated(this.key, usage, head, HEADER, tail, rrc);
    // confounder ‖ plaintext ‖ filler (EC bytes) ‖ header copy
    if (data.length < 16 + ec + HEADER) {
      throw new KerberosIntegrityError("Wrap token filler too long");
    }
    const hcopy = data.length - HEADER;
    for (let i = 0; i < HEADER; i++) {
      if (i === 6 || i === 7) continue; // RRC is 0 in the encrypted copy
      if (data[hcopy + i] !== head[i]) {
        throw new KerberosIntegrityError("Wrap token header was modified");
      }
    }
    this.#checkSeq(head);
    return use(data.subarray(16, hcopy - ec));
  }

  /** A MIC token (RFC 4121 §4.2.6.1) over `msg`. */
  getMic(msg: Uint8Array): Uint8Array {
    const hdr = this.#header(0x0404, 0, this.sendSeq++);
    hdr.fill(0xff, 3, 8);
    const usage = this.isAcceptor ? USAGE.ACCEPTOR_SIGN : USAGE.INITIATOR_SIGN;
    return concat(hdr, checksum(this.key, usage, msg, hdr));
  }

  verifyMic(msg: Uint8Array, token: Uint8Array): void {
    if (token.length !== HEADER + 12 || token[0] !== 0x04 || token[1] !== 0x04) {
      throw new KerberosProtocolError("not a Kerberos MIC token");
    }
    this.#checkFlags(token[2]);
    const usage = this.isAcceptor ? USAGE.INITIATOR_SIGN : USAGE.ACCEPTOR_SIGN;
    const hdr = token.subarray(0, HEADER);
    if (!equal(checksum(this.key, usage, msg, hdr), token.subarray(HEADER))) {
      throw new KerberosIntegrityError("MIC does not verify");
    }
    this.#checkSeq(token);
  }

  #header(tokId: number, ec: number, seq: number, h = new Uint8Array(HEADER)): Uint8Array {
    h[0] = tokId >> 8;
    h[1] = tokId & 255;
    h[2] = (this.isAcceptor ? WRAP_FLAG.SENT_BY_ACCEPTOR : 0) |
      (tokId === 0x0504 ? WRAP_FLAG.SEALED : 0) |
      (this.acceptorSubkey ? WRAP_FLAG.ACCEPTOR_SUBKEY : 0);
    h[3] = 0xff;
    h[4] = ec >> 8;
    h[5] = ec & 255;
    h.fill(0, 6, 12); // RRC, and SND_SEQ's high 32 bits
    h[12] = seq >>> 24;
    h[13] = (seq >>> 16) & 255;
    h[14] = (seq >>> 8) & 255;
    h[15] = seq & 255;
    return h;
  }

  #checkFlags(flags: number) {
    const fromAcceptor = (flags & WRAP_FLAG.SENT_BY_ACCEPTOR) !== 0;
    if (fromAcceptor === this.isAcceptor) {
      throw new KerberosProtocolError("token sent by the wrong side (reflected?)");
    }
    if (((flags & WRAP_FLAG.ACCEPTOR_SUBKEY) !== 0) !== this.acceptorSubkey) {
      throw new KerberosProtocolError("token's AcceptorSubkey flag does not match the context");
    }
  }

  /** Replay and order: each token's sequence number must exceed the last one seen. */
  #checkSeq(token: Uint8Array) {
    const v = new DataView(token.buffer, token.byteOffset + 8, 8);
    const seq = v.getUint32(0) * 2 ** 32 + v.getUint32(4);
    if (this.recvSeq >= 0 && seq <= this.recvSeq) {
      throw new KerberosIntegrityError("token replayed or out of order");
    }
    this.recvSeq = seq;
  }
}

export interface InitiatorOptions {
  ticket: Ticket;
  sessionKey: Key;
  crealm: string;
  cname: PrincipalName;
  /** MD5 of gss_channel_bindings_struct (TLS tls-server-end-point), or null */
  channelBindings: Uint8Array | null;
  nowMs: number;
}

/** The client end: makes the AP-REQ token, then checks the AP-REP and opens the context. */
export class InitiatorContext extends SecurityContext {
  protected readonly isAcceptor = false;
  readonly #opts: InitiatorOptions;
  readonly #subkey: Key;
  readonly #ctime: number;
  readonly #cusec: number;
  #established = false;

  constructor(opts: InitiatorOptions) {
    super();
    this.#opts = opts;
    this.#subkey = randomKey(opts.sessionKey.etype);
    this.#ctime = Math.floor(opts.nowMs / 1000) * 1000;
    this.#cusec = (opts.nowMs % 1000) * 1000 + Math.floor(Math.random() * 1000);
    this.sendSeq = new DataView(randomBytes(4).buffer).getUint32(0) & 0x3fffffff;
  }

  get established(): boolean {
    return this.#established;
  }

  /** The framed AP-REQ (mutual authentication required). */
  initialToken(): Uint8Array {
    const o = this.#opts;
    const flags = GSS_FLAG.MUTUAL | GSS_FLAG.REPLAY | GSS_FLAG.SEQUENCE | GSS_FLAG.CONF |
      GSS_FLAG.INTEG;
    const apReq = encodeApReq({
      options: AP_OPT_MUTUAL_REQUIRED,
      ticket: o.ticket,
      sessionKey: o.sessionKey,
      usage: USAGE.AP_REQ_AUTH,
      authenticator: {
        crealm: o.crealm,
        cname: o.cname,
        cksum: { type: CKSUM_GSS, value: gssChecksum(o.channelBindings, flags) },
        ctime: this.#ctime,
        cusec: this.#cusec,
        subkey: this.#subkey,
        seqNumber: this.sendSeq,
      },
    });
    return frame(TOK_AP_REQ, apReq);
  }

  /** Verifies the acceptor's AP-REP token (mutual authentication) and keys the context. */
  complete(token: Uint8Array): void {
    const { tokId, inner } = unframe(token);
    if (tokId === 0x0300) {
      throw Object.assign(new KerberosProtocolError("the acceptor answered with a KRB-ERROR"), {
        krbErrorToken: inner,
      });
    }
    if (tokId !== 0x0200) throw new KerberosProtocolError("expected an AP-REP token");
    let rep: ApRep;
    try {
      rep = decodeApRep(inner, this.#opts.sessionKey);
    } catch (err) {
      if (err instanceof KerberosIntegrityError) {
        throw new KerberosError(
          "integrity",
          "the server's AP-REP does not verify: mutual authentication failed",
        );
      }
      throw err;
    }
    if (rep.ctime !== this.#ctime || rep.cusec !== this.#cusec) {
      throw new KerberosError(
        "integrity",
        "the server's AP-REP answers another authenticator: mutual authentication failed",
      );
    }
    this.acceptorSubkey = rep.subkey !== null;
    this.key = rep.subkey ?? this.#subkey;
    if (rep.seqNumber !== null) this.recvSeq = rep.seqNumber - 1;
    this.#established = true;
  }
}

/** The server end (the simulator): accepts an AP-REQ token with a service key. */
export class AcceptorContext extends SecurityContext {
  protected readonly isAcceptor = true;
  request!: ReceivedApReq;
  gssFlags = 0;

  /**
   * Decrypts and checks the AP-REQ; `expectedBindings` (MD5 of the channel bindings) is
   * compared with the authenticator's when the client sent non-zero bindings or when
   * `requireBindings` is set. Returns the framed AP-REP.
   */
  accept(
    token: Uint8Array,
    keyFor: (etype: number, kvno: number | null) => Key,
    opts: {
      nowMs: number;
      expectedBindings?: Uint8Array | null;
      requireBindings?: boolean;
      maxSkewMs?: number;
    },
  ): Uint8Array {
    const { tokId, inner } = unframe(token);
    if (tokId !== 0x0100) throw new KerberosProtocolError("expected an AP-REQ token");
    const req = decodeApReq(inner, keyFor);
    const a = req.authenticator;
    if (Math.abs(a.ctime - opts.nowMs) > (opts.maxSkewMs ?? 300_000)) {
      throw new KerberosError(
        "clock_skew",
        "authenticator time outside the allowed clock skew",
        37,
      );
    }
    if (req.ticketEnd < opts.nowMs) throw new KerberosError("kdc_error", "ticket expired", 32);
    if (!a.cksum || a.cksum.type !== CKSUM_GSS || a.cksum.value.length < 24) {
      throw new KerberosProtocolError("authenticator lacks the GSS checksum");
    }
    const bnd = a.cksum.value.subarray(4, 20);
    const zero = bnd.every((x) => x === 0);
    if (opts.requireBindings || !zero) {
      if (!opts.expectedBindings || !equal(bnd, opts.expectedBindings)) {
        throw new KerberosError("integrity", "channel bindings do not match this TLS channel");
      }
    }
    this.gssFlags = new DataView(a.cksum.value.buffer, a.cksum.value.byteOffset + 20, 4).getUint32(
      0,
      true,
    );
    this.request = req;
    const subkey = randomKey((a.subkey ?? req.sessionKey).etype);
    this.key = subkey;
    this.acceptorSubkey = true;
    this.recvSeq = (a.seqNumber ?? 0) - 1;
    this.sendSeq = new DataView(randomBytes(4).buffer).getUint32(0) & 0x3fffffff;
    const rep = encodeApRep(
      { ctime: a.ctime, cusec: a.cusec, subkey, seqNumber: this.sendSeq },
      req.sessionKey,
    );
    return frame(TOK_AP_REP, rep);
  }
}

/**
 * A context keyed directly (a recorded exchange's context key): for known-answer tests and
 * tools that replay a capture. `sendSeq` is the next sequence number this side uses.
 */
export function keyedContext(
  side: "initiator" | "acceptor",
  key: Key,
  opts: { acceptorSubkey: boolean; sendSeq?: number },
): SecurityContext {
  const ctx = side === "initiator" ? new KeyedInitiator() : new KeyedAcceptor();
  ctx.setKey(key, opts.acceptorSubkey, opts.sendSeq ?? 0);
  return ctx;
}

class KeyedInitiator extends SecurityContext {
  protected readonly isAcceptor: boolean = false;
  setKey(key: Key, acceptorSubkey: boolean, sendSeq: number) {
    this.key = key;
    this.acceptorSubkey = acceptorSubkey;
    this.sendSeq = sendSeq;
  }
}

class KeyedAcceptor extends KeyedInitiator {
  protected override readonly isAcceptor: boolean = true;
}

/** A framed KRB-ERROR token (what an acceptor answers a bad AP-REQ with). */
export const errorToken = (krbError: Uint8Array) => frame(TOK_ERROR, krbError);
