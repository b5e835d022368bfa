/**
 * The Kerberos V5 messages (RFC 4120 §5) a WinRM client and a keytab-holding acceptor need:
 * AS-REQ/TGS-REQ, KDC-REP, KRB-ERROR, AP-REQ (ticket + authenticator) and AP-REP.
 */
import {
  app,
  concat,
  ctx,
  Der,
  flags32,
  gstring,
  int,
  need,
  octets,
  seq,
  TAG,
  time,
} from "./asn1.ts";
import { checksum, checksumType, decrypt, encrypt, type Key, USAGE } from "./crypto.ts";
import { KerberosProtocolError } from "./errors.ts";

export const PVNO = 5;
export const MSG = {
  AS_REQ: 10,
  AS_REP: 11,
  TGS_REQ: 12,
  TGS_REP: 13,
  AP_REQ: 14,
  AP_REP: 15,
  ERROR: 30,
} as const;
export const PA = { TGS_REQ: 1, ENC_TIMESTAMP: 2, ETYPE_INFO2: 19, PAC_REQUEST: 128 } as const;
export const NT = { PRINCIPAL: 1, SRV_INST: 2, SRV_HST: 3 } as const;
/** KDCOptions bits (bit 0 is the MSB): forwardable, renewable, canonicalize, renewable-ok. */
export const KDC_OPT = {
  FORWARDABLE: 0x40000000,
  RENEWABLE: 0x00800000,
  CANONICALIZE: 0x00010000,
  RENEWABLE_OK: 0x00000010,
} as const;
export const AP_OPT_MUTUAL_REQUIRED = 0x20000000;

export interface PrincipalName {
  type: number;
  names: string[];
}

export const principalString = (p: PrincipalName, realm?: string) =>
  p.names.join("/") + (realm ? `@${realm}` : "");

function encodePrincipal(p: PrincipalName): Uint8Array {
  return seq(ctx(0, int(p.type)), ctx(1, seq(...p.names.map(gstring))));
}

function decodePrincipal(d: Der): PrincipalName {
  const f = d.fields("PrincipalName");
  return {
    type: need(f, 0, "name-type").int(),
    names: need(f, 1, "name-string").expect(TAG.SEQUENCE, "name-string").children().map((c) =>
      c.string()
    ),
  };
}

export interface EncryptedData {
  etype: number;
  kvno: number | null;
  cipher: Uint8Array;
}

function encodeEncrypted(e: EncryptedData): Uint8Array {
  const parts = [ctx(0, int(e.etype))];
  if (e.kvno !== null) parts.push(ctx(1, int(e.kvno)));
  parts.push(ctx(2, octets(e.cipher)));
  return seq(...parts);
}

function decodeEncrypted(d: Der): EncryptedData {
  const f = d.fields("EncryptedData");
  return {
    etype: need(f, 0, "etype").int(),
    kvno: f.get(1)?.int() ?? null,
    cipher: need(f, 2, "cipher").octets(),
  };
}

const encodeKey = (k: Key) => seq(ctx(0, int(k.etype)), ctx(1, octets(k.value)));

function decodeKey(d: Der): Key {
  const f = d.fields("EncryptionKey");
  return { etype: need(f, 0, "keytype").int(), value: need(f, 1, "keyvalue").octets().slice() };
}

function padata(type: number, value: Uint8Array): Uint8Array {
  return seq(ctx(1, int(type)), ctx(2, octets(value)));
}

export interface PaData {
  type: number;
  value: Uint8Array;
}

function decodePadata(d: Der): PaData[] {
  return d.expect(TAG.SEQUENCE, "METHOD-DATA").children().map((c) => {
    const f = c.fields("PA-DATA");
    return { type: need(f, 1, "padata-type").int(), value: need(f, 2, "padata-value").octets() };
  });
}

export interface EtypeInfo2 {
  etype: number;
  salt: string | null;
  s2kparams: Uint8Array | null;
}

export function decodeEtypeInfo2(value: Uint8Array): EtypeInfo2[] {
  return Der.read(value).expect(TAG.SEQUENCE, "ETYPE-INFO2").children().map((c) => {
    const f = c.fields("ETYPE-INFO2-ENTRY");
    return {
      etype: need(f, 0, "etype").int(),
      salt: f.get(1)?.string() ?? null,
      s2kparams: f.get(2)?.octets() ?? null,
    };
  });
}

export interface KdcRequest {
  msgType: typeof MSG.AS_REQ | typeof MSG.TGS_REQ;
  padata: PaData[];
  options: number;
  cname?: PrincipalName;
  realm: string;
  sname: PrincipalName;
  till: number;
  nonce: number;
  etypes: number[];
}

/** KDC-REQ-BODY, encoded on its own because the TGS authenticator checksums it. */
export function encodeReqBody(r: Omit<KdcRequest, "msgType" | "padata">): Uint8Array {
  const parts = [ctx(0, flags32(r.options))];
  if (r.cname) parts.push(ctx(1, encodePrincipal(r.cname)));
  parts.push(
    ctx(2, gstring(r.realm)),
    ctx(3, encodePrincipal(r.sname)),
    ctx(5, time(r.till)),
    ctx(7, int(r.nonce)),
    ctx(8, seq(...r.etypes.map(int))),
  );
  return seq(...parts);
}

export function encodeKdcRequest(r: KdcRequest, body = encodeReqBody(r)): Uint8Array {
  const parts = [ctx(1, int(PVNO)), ctx(2, int(r.msgType))];
  if (r.padata.length) parts.push(ctx(3, seq(...r.padata.map((p) => padata(p.type, p.value)))));
  parts.push(ctx(4, body));
  return app(r.msgType, seq(...parts));
}

/** PA-ENC-TIMESTAMP: {patimestamp, pausec} encrypted with the client's long-term key. */
export function encTimestamp(key: Key, nowMs: number): PaData {
  const ts = seq(ctx(0, time(nowMs)), ctx(1, int((nowMs % 1000) * 1000)));
  const value = encodeEncrypted({
    etype: key.etype,
    kvno: null,
    cipher: encrypt(key, USAGE.AS_REQ_PA_ENC_TIMESTAMP, ts),
  });
  return { type: PA.ENC_TIMESTAMP, value };
}

/** PA-PAC-REQUEST {include-pac TRUE}: Windows KDCs want it to put a PAC in the ticket. */
export function pacRequest(): PaData {
  return { type: PA.PAC_REQUEST, value: seq(ctx(0, new Uint8Array([0x01, 0x01, 0xff]))) };
}

export interface Ticket {
  realm: string;
  sname: PrincipalName;
  encPart: EncryptedData;
  /** the whole Ticket, as received, to send back verbatim */
  der: Uint8Array;
}

function decodeTicket(d: Der): Ticket {
  const f = d.expect(0x61, "Ticket").inner().fields("Ticket");
  return {
    realm: need(f, 1, "realm").string(),
    sname: decodePrincipal(need(f, 2, "sname")),
    encPart: decodeEncrypted(need(f, 3, "enc-part")),
    der: d.raw.slice(),
  };
}

export interface KdcReply {
  msgType: number;
  padata: PaData[];
  crealm: string;
  cname: PrincipalName;
  ticket: Ticket;
  encPart: EncryptedData;
}

export interface KrbError {
  code: number;
  stime: number;
  eText: string | null;
  eData: Uint8Array | null;
  realm: string;
  sname: PrincipalName | null;
}

/** A KDC's answer: a reply or a KRB-ERROR. */
export function decodeKdcAnswer(b: Uint8Array): { reply: KdcReply } | { error: KrbError } {
  const outer = Der.read(b);
  if (outer.tag === 0x60 + MSG.ERROR) return { error: decodeKrbError(outer) };
  if (outer.tag !== 0x60 + MSG.AS_REP && outer.tag !== 0x60 + MSG.TGS_REP) {
    throw new KerberosProtocolError(`unexpected KDC message (tag 0x${outer.tag.toString(16)})`);
  }
  const f = outer.inner().fields("KDC-REP");
  return {
    reply: {
      msgType: need(f, 1, "msg-type").int(),
      padata: f.get(2) ? decodePadata(f.get(2)!) : [],
      crealm: need(f, 3, "crealm").string(),
      cname: decodePrincipal(need(f, 4, "cname")),
      ticket: decodeTicket(need(f, 5, "ticket")),
      encPart: decodeEncrypted(need(f, 6, "enc-part")),
    },
  };
}

export function decodeKrbError(outer: Der): KrbError {
  const f = outer.expect(0x60 + MSG.ERROR, "KRB-ERROR").inner().fields("KRB-ERROR");
  const sname = f.get(10);
  return {
    code: need(f, 6, "error-code").int(),
    stime: need(f, 4, "stime").time(),
    eText: f.get(11)?.string() ?? null,
    eData: f.get(12)?.octets() ?? null,
    realm: need(f, 9, "realm").string(),
    sname: sname ? decodePrincipal(sname) : null,
  };
}

/** METHOD-DATA in a PREAUTH_REQUIRED error's e-data (some KDCs send none). */
export function errorPadata(e: KrbError): PaData[] {
  if (!e.eData) return [];
  try {
    return decodePadata(Der.read(e.eData));
  } catch {
    return [];
  }
}

export interface EncKdcRepPart {
  key: Key;
  nonce: number;
  authtime: number;
  starttime: number | null;
  endtime: number;
  renewTill: number | null;
  keyExpiration: number | null;
}

/** Decrypts a KDC-REP enc-part (EncASRepPart or EncTGSRepPart; MIT sends the latter for both). */
export function decryptKdcRepPart(reply: KdcReply, key: Key, usage: number): EncKdcRepPart {
  const plain = decrypt(key, usage, reply.encPart.cipher);
  const outer = Der.read(plain);
  if (outer.tag !== 0x79 && outer.tag !== 0x7a) {
    throw new KerberosProtocolError("KDC reply's encrypted part is not an EncKDCRepPart");
  }
  const f = outer.inner().fields("EncKDCRepPart");
  return {
    key: decodeKey(need(f, 0, "key")),
    nonce: need(f, 2, "nonce").int(),
    keyExpiration: f.get(3)?.time() ?? null,
    authtime: need(f, 5, "authtime").time(),
    starttime: f.get(6)?.time() ?? null,
    endtime: need(f, 7, "endtime").time(),
    renewTill: f.get(8)?.time() ?? null,
  };
}

export interface Authenticator {
  crealm: string;
  cname: PrincipalName;
  cksum: { type: number; value: Uint8Array } | null;
  ctime: number;
  cusec: number;
  subkey: Key | null;
  seqNumber: number | null;
}

function encodeAuthenticator(a: Authenticator): Uint8Array {
  const parts = [ctx(0, int(PVNO)), ctx(1, gstring(a.crealm)), ctx(2, encodePrincipal(a.cname))];
  if (a.cksum) parts.push(ctx(3, seq(ctx(0, int(a.cksum.type)), ctx(1, octets(a.cksum.value)))));
  parts.push(ctx(4, int(a.cusec)), ctx(5, time(a.ctime)));
  if (a.subkey) parts.push(ctx(6, encodeKey(a.subkey)));
  if (a.seqNumber !== null) parts.push(ctx(7, int(a.seqNumber)));
  return app(2, seq(...parts));
}

function decodeAuthenticator(b: Uint8Array): Authenticator {
  const f = Der.read(b).expect(0x62, "Authenticator").inner().fields("Authenticator");
  const ck = f.get(3)?.fields("Checksum");
  return {
    crealm: need(f, 1, "crealm").string(),
    cname: decodePrincipal(need(f, 2, "cname")),
    cksum: ck
      ? { type: need(ck, 0, "cksumtype").int(), value: need(ck, 1, "checksum").octets().slice() }
      : null,
    cusec: need(f, 4, "cusec").int(),
    ctime: need(f, 5, "ctime").time(),
    subkey: f.get(6) ? decodeKey(f.get(6)!) : null,
    seqNumber: f.get(7) ? f.get(7)!.int() >>> 0 : null,
  };
}

/** AP-REQ: the ticket and an authenticator sealed with its session key under `usage`. */
export function encodeApReq(opts: {
  options: number;
  ticket: Ticket;
  sessionKey: Key;
  authenticator: Authenticator;
  usage: number;
}): Uint8Array {
  const enc = encrypt(opts.sessionKey, opts.usage, encodeAuthenticator(opts.authenticator));
  return app(
    MSG.AP_REQ,
    seq(
      ctx(0, int(PVNO)),
      ctx(1, int(MSG.AP_REQ)),
      ctx(2, flags32(opts.options)),
      ctx(3, opts.ticket.der),
      ctx(4, encodeEncrypted({ etype: opts.sessionKey.etype, kvno: null, cipher: enc })),
    ),
  );
}

/** The TGS-REQ's PA-TGS-REQ: an AP-REQ whose authenticator checksums the request body. */
export function tgsApReq(opts: {
  tgt: Ticket;
  sessionKey: Key;
  crealm: string;
  cname: PrincipalName;
  body: Uint8Array;
  nowMs: number;
}): PaData {
  const k = opts.sessionKey;
  const value = encodeApReq({
    options: 0,
    ticket: opts.tgt,
    sessionKey: k,
    usage: USAGE.TGS_REQ_AUTH,
    authenticator: {
      crealm: opts.crealm,
      cname: opts.cname,
      cksum: {
        type: checksumType(k.etype),
        value: checksum(k, USAGE.TGS_REQ_AUTH_CKSUM, opts.body),
      },
      ctime: opts.nowMs,
      cusec: (opts.nowMs % 1000) * 1000,
      subkey: null,
      seqNumber: null,
    },
  });
  return { type: PA.TGS_REQ, value };
}

export interface ApRep {
  ctime: number;
  cusec: number;
  subkey: Key | null;
  seqNumber: number | null;
}

export function decodeApRep(b: Uint8Array, sessionKey: Key): ApRep {
  const outer = Der.read(b);
  if (outer.tag === 0x60 + MSG.ERROR) {
    throw Object.assign(new KerberosProtocolError("acceptor answered with KRB-ERROR"), {
      krbError: decodeKrbError(outer),
    });
  }
  const f = outer.expect(0x60 + MSG.AP_REP, "AP-REP").inner().fields("AP-REP");
  const enc = decodeEncrypted(need(f, 2, "enc-part"));
  const plain = decrypt(sessionKey, USAGE.AP_REP_ENC_PART, enc.cipher);
  const p = Der.read(plain).expect(0x7b, "EncAPRepPart").inner().fields("EncAPRepPart");
  return {
    ctime: need(p, 0, "ctime").time(),
    cusec: need(p, 1, "cusec").int(),
    subkey: p.get(2) ? decodeKey(p.get(2)!) : null,
    seqNumber: p.get(3) ? p.get(3)!.int() >>> 0 : null,
  };
}

export function encodeApRep(rep: ApRep, sessionKey: Key): Uint8Array {
  const parts = [ctx(0, time(rep.ctime)), ctx(1, int(rep.cusec))];
  if (rep.subkey) parts.push(ctx(2, encodeKey(rep.subkey)));
  if (rep.seqNumber !== null) parts.push(ctx(3, int(rep.seqNumber)));
  const enc = encrypt(sessionKey, USAGE.AP_REP_ENC_PART, app(27, seq(...parts)));
  return app(
    MSG.AP_REP,
    seq(
      ctx(0, int(PVNO)),
      ctx(1, int(MSG.AP_REP)),
      ctx(2, encodeEncrypted({ etype: sessionKey.etype, kvno: null, cipher: enc })),
    ),
  );
}

export interface ReceivedApReq {
  options: number;
  ticket: Ticket;
  /** from the decrypted ticket */
  sessionKey: Key;
  client: { realm: string; name: PrincipalName };
  ticketEnd: number;
  authenticator: Authenticator;
}

/**
 * The acceptor's side: decrypts the ticket with the service key `keyFor(etype, kvno)` gives
 * and the authenticator with the ticket's session key.
 */
export function decodeApReq(
  b: Uint8Array,
  keyFor: (etype: number, kvno: number | null) => Key,
): ReceivedApReq {
  const f = Der.read(b).expect(0x60 + MSG.AP_REQ, "AP-REQ").inner().fields("AP-REQ");
  const ticket = decodeTicket(need(f, 3, "ticket"));
  const serviceKey = keyFor(ticket.encPart.etype, ticket.encPart.kvno);
  const tplain = decrypt(serviceKey, USAGE.KDC_REP_TICKET, ticket.encPart.cipher);
  const t = Der.read(tplain).expect(0x63, "EncTicketPart").inner().fields("EncTicketPart");
  const sessionKey = decodeKey(need(t, 1, "key"));
  const auth = decodeEncrypted(need(f, 4, "authenticator"));
  return {
    options: need(f, 2, "ap-options").bits(),
    ticket,
    sessionKey,
    client: { realm: need(t, 2, "crealm").string(), name: decodePrincipal(need(t, 3, "cname")) },
    ticketEnd: need(t, 7, "endtime").time(),
    authenticator: decodeAuthenticator(decrypt(sessionKey, USAGE.AP_REQ_AUTH, auth.cipher)),
  };
}

/** Exposed for the keytab-less tests that build tickets themselves. */
export const der = { encodePrincipal, encodeKey, encodeEncrypted, concat };
