/**
 * A Kerberos principal's tickets: the AS exchange (PA-ENC-TIMESTAMP pre-authentication,
 * the salt learnt from the KDC's ETYPE-INFO2 first, as MIT clients do), TGS exchanges for
 * service tickets, and a cache that reuses both until shortly before they expire.
 *
 * Never retried: one failed AS-REQ (a wrong password) is one error, and callers that ask at
 * the same time share the one exchange in flight, so a poll can cost the account at most one
 * failed pre-authentication.
 */
import { createHash, randomBytes } from "node:crypto";
import { ETYPE, isSupportedEtype, iterationsOf, type Key, stringToKey, USAGE } from "./crypto.ts";
import { KerberosError, KerberosIntegrityError, KRB_ERR } from "./errors.ts";
import {
  discoverKdcs,
  type KdcAddress,
  kdcExchange,
  type NameServer,
  parseKdc,
} from "./kdc_transport.ts";
import {
  decodeEtypeInfo2,
  decodeKdcAnswer,
  decryptKdcRepPart,
  encodeKdcRequest,
  encodeReqBody,
  encTimestamp,
  errorPadata,
  type EtypeInfo2,
  KDC_OPT,
  type KdcReply,
  type KrbError,
  MSG,
  NT,
  PA,
  pacRequest,
  type PaData,
  type PrincipalName,
  principalString,
  tgsApReq,
  type Ticket,
} from "./messages.ts";

export interface KerberosCredentialOptions {
  /** "user@REALM", "DOMAIN\\user" or "user" (then `realm` is required) */
  principal: string;
  password: string;
  realm?: string | null;
  /** "host[:port]" each; none: DNS SRV */
  kdcs?: string[] | null;
  /** the DNS server for SRV look-ups (tests); default the system's */
  nameServer?: NameServer;
  /**
   * kerberos.allow_rc4: an account with only RC4-HMAC keys may pre-authenticate with its
   * RC4 key (RFC 4757). Service tickets are still asked for with AES session keys only.
   */
  allowRc4?: boolean;
  /** the clock (tests offset it); default Date.now */
  now?: () => number;
  kdcTimeoutMs?: number;
  /** renew (re-acquire) a ticket this long before it ends; default 5 min */
  renewBeforeMs?: number;
}

export interface ServiceTicket {
  ticket: Ticket;
  sessionKey: Key;
  crealm: string;
  cname: PrincipalName;
  endtime: number;
}

interface Tgt extends ServiceTicket {
  kdcs: KdcAddress[];
}

/** Our etype preference: the strongest first. */
const ETYPES = [ETYPE.AES256, ETYPE.AES128];
/** The AS-REQ's when RC4 is allowed: RC4 last, so the KDC picks it only for an RC4-only key. */
const ETYPES_RC4 = [ETYPE.AES256, ETYPE.AES128, ETYPE.RC4_HMAC];
const RC4_REFUSED = "RC4-HMAC is refused by default (weak, deprecated): give the account AES " +
  "keys (msDS-SupportedEncryptionTypes, then change its password), or set kerberos.allow_rc4";

/** Splits "user@REALM" / "DOMAIN\\user" / "user" with an explicit realm. */
export function parsePrincipal(
  principal: string,
  realm?: string | null,
): { name: PrincipalName; realm: string } {
  const p = principal.trim();
  let user = p;
  let r = realm?.trim() || "";
  const at = p.lastIndexOf("@");
  if (p.includes("\\")) {
    user = p.slice(p.indexOf("\\") + 1);
  } else if (at > 0) {
    user = p.slice(0, at);
    r ||= p.slice(at + 1);
  }
  if (!user) throw new KerberosError("config", "a Kerberos user name is required");
  if (!r) {
    throw new KerberosError(
      "config",
      `no Kerberos realm for ${JSON.stringify(principal)}: write user@REALM or set the realm`,
    );
  }
  return { name: { type: NT.PRINCIPAL, names: user.split("/") }, realm: r.toUpperCase() };
}

/** "HTTP/host" or "HTTP/host@REALM" → name (NT-SRV-INST, as Windows sends) and realm. */
export function parseSpn(
  spn: string,
  defaultRealm: string,
): { name: PrincipalName; realm: string } {
  const at = spn.lastIndexOf("@");
  const names = (at > 0 ? spn.slice(0, at) : spn).split("/");
  if (names.length < 2 || names.some((n) => !n)) {
    throw new KerberosError(
      "config",
      `not a service principal name: ${JSON.stringify(spn)} (HTTP/host)`,
    );
  }
  return { name: { type: NT.SRV_INST, names }, realm: at > 0 ? spn.slice(at + 1) : defaultRealm };
}

export class KerberosClient {
  readonly principal: string;
  readonly realm: string;
  readonly #name: PrincipalName;
  readonly #password: string;
  readonly #opts: KerberosCredentialOptions;
  readonly #now: () => number;
  #salt: EtypeInfo2 | null = null;
  #tgt: Tgt | null = null;
  #tgtInFlight: Promise<Tgt> | null = null;
  readonly #tickets = new Map<string, ServiceTicket>();
  readonly #ticketsInFlight = new Map<string, Promise<ServiceTicket>>();
  /** AS-REQs sent, and how many the KDC refused (tests and the lockout guard read these) */
  readonly stats = { asRequests: 0, asFailures: 0, tgsRequests: 0 };

  constructor(opts: KerberosCredentialOptions) {
    const p = parsePrincipal(opts.principal, opts.realm);
    this.#name = p.name;
    this.realm = p.realm;
    this.principal = principalString(p.name, p.realm);
    this.#password = opts.password;
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  /** A ticket for `spn` ("HTTP/host"), from the cache while it has time left. */
  serviceTicket(spn: string, signal?: AbortSignal): Promise<ServiceTicket> {
    const key = spn.toLowerCase();
    const hit = this.#tickets.get(key);
    if (hit && this.#fresh(hit.endtime)) return Promise.resolve(hit);
    let p = this.#ticketsInFlight.get(key);
    if (!p) {
      p = this.#tgs(spn, signal).finally(() => this.#ticketsInFlight.delete(key));
      this.#ticketsInFlight.set(key, p);
    }
    return p;
  }

  /** Forgets every ticket (a server that refused one makes the next poll start over). */
  forget(spn?: string): void {
    if (spn) this.#tickets.delete(spn.toLowerCase());
    else {
      this.#tickets.clear();
      this.#tgt = null;
    }
  }

  #fresh(endtime: number): boolean {
    return endtime - (this.#opts.renewBeforeMs ?? 300_000) > this.#now();
  }

  async #kdcs(): Promise<KdcAddress[]> {
    if (this.#opts.kdcs?.length) return this.#opts.kdcs.map(parseKdc);
    return await discoverKdcs(this.realm, this.#opts.nameServer);
  }

  #getTgt(signal?: AbortSignal): Promise<Tgt> {
    if (this.#tgt && this.#fresh(this.#tgt.endtime)) return Promise.resolve(this.#tgt);
    if (!this.#tgtInFlight) {
      this.#tgtInFlight = this.#asExchange(signal).then((t) => this.#tgt = t)
        .finally(() => this.#tgtInFlight = null);
    }
    return this.#tgtInFlight;
  }

  async #asExchange(signal?: AbortSignal): Promise<Tgt> {
    const kdcs = await this.#kdcs();
    const krbtgt: PrincipalName = { type: NT.SRV_INST, names: ["krbtgt", this.realm] };
    const send = async (padata: PaData[]) => {
      const nonce = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
      const msg = encodeKdcRequest({
        msgType: MSG.AS_REQ,
        padata,
        options: KDC_OPT.FORWARDABLE | KDC_OPT.RENEWABLE | KDC_OPT.CANONICALIZE |
          KDC_OPT.RENEWABLE_OK,
        cname: this.#name,
        realm: this.realm,
        sname: krbtgt,
        till: this.#now() + 24 * 3600_000,
        nonce,
        etypes: this.#opts.allowRc4 ? ETYPES_RC4 : ETYPES,
      });
      this.stats.asRequests++;
      return {
        answer: decodeKdcAnswer(
          await kdcExchange(kdcs, msg, { timeoutMs: this.#opts.kdcTimeoutMs, signal }),
        ),
        nonce,
      };
    };
    let key: Key | null = null;
    if (!this.#salt) {
      // First request without pre-authentication, to learn the etype and salt.
      const { answer, nonce } = await send([pacRequest()]);
      if ("reply" in answer) {
        // The account does not require pre-authentication: the reply is already here.
        const info = this.#choose(answer.reply.padata);
        return this.#tgtFrom(answer.reply, this.#keyFor(info), nonce, kdcs);
      }
      if (answer.error.code !== KRB_ERR.PREAUTH_REQUIRED) throw this.#asError(answer.error);
      const padata = errorPadata(answer.error);
      if (!padata.some((p) => p.type === PA.ETYPE_INFO2)) {
        // The KDC names no key of an etype we asked for (MIT and AD send ETYPE-INFO2 whenever
        // one matches). Guessing would cost the account a failed pre-authentication.
        throw new KerberosError(
          "etype",
          `${this.principal}: the KDC has no key of an allowed type for this account ` +
            `(an RC4-only account? ${RC4_REFUSED})`,
          KRB_ERR.ETYPE_NOSUPP,
        );
      }
      this.#salt = this.#choose(padata);
    }
    key = this.#keyFor(this.#salt);
    const { answer, nonce } = await send([encTimestamp(key, this.#now()), pacRequest()]);
    if ("error" in answer) {
      if (
        answer.error.code === KRB_ERR.PREAUTH_FAILED ||
        answer.error.code === KRB_ERR.AP_ERR_BAD_INTEGRITY
      ) {
        this.#salt = null; // the salt may have changed with the password
      }
      this.stats.asFailures++;
      throw this.#asError(answer.error);
    }
    return this.#tgtFrom(answer.reply, key, nonce, kdcs);
  }

  #tgtFrom(reply: KdcReply, key: Key, nonce: number, kdcs: KdcAddress[]): Tgt {
    let part;
    try {
      part = decryptKdcRepPart(reply, key, USAGE.AS_REP_ENC_PART);
    } catch (err) {
      if (err instanceof KerberosIntegrityError) {
        throw new KerberosError(
          "wrong_password",
          `${this.principal}: the KDC's reply does not decrypt with this password`,
        );
      }
      throw err;
    }
    if (part.nonce !== nonce) {
      throw new KerberosError("protocol", "the KDC's reply answers another request (nonce)");
    }
    return {
      ticket: reply.ticket,
      sessionKey: part.key,
      crealm: reply.crealm,
      cname: reply.cname,
      endtime: part.endtime,
      kdcs,
    };
  }

  /** The strongest etype we support among the KDC's ETYPE-INFO2 (default salt if none). */
  #choose(padata: PaData[]): EtypeInfo2 {
    const entry = padata.find((p) => p.type === PA.ETYPE_INFO2);
    const infos = entry ? decodeEtypeInfo2(entry.value) : [];
    for (const e of this.#opts.allowRc4 ? ETYPES_RC4 : ETYPES) {
      const i = infos.find((x) => x.etype === e);
      if (i) return i;
    }
    if (infos.length && infos.every((i) => !isSupportedEtype(i.etype, this.#opts.allowRc4))) {
      const rc4 = infos.some((i) => i.etype === ETYPE.RC4_HMAC);
      throw new KerberosError(
        "etype",
        `${this.principal}: the KDC offers only ` +
          (rc4
            ? `RC4-HMAC keys for this account: ${RC4_REFUSED}`
            : `encryption types ${infos.map((i) => i.etype).join(", ")}, none of them AES`),
        KRB_ERR.ETYPE_NOSUPP,
      );
    }
    return { etype: ETYPE.AES256, salt: null, s2kparams: null };
  }

  #keyFor(info: EtypeInfo2): Key {
    const salt = info.salt ?? (this.realm + this.#name.names.join(""));
    return stringToKey(info.etype, this.#password, salt, iterationsOf(info.s2kparams));
  }

  async #tgs(spn: string, signal?: AbortSignal): Promise<ServiceTicket> {
    const tgt = await this.#getTgt(signal);
    const service = parseSpn(spn, this.realm);
    const nonce = randomBytes(4).readUInt32BE(0) & 0x7fffffff;
    const req = {
      options: KDC_OPT.FORWARDABLE | KDC_OPT.CANONICALIZE,
      realm: service.realm,
      sname: service.name,
      till: Math.min(tgt.endtime, this.#now() + 24 * 3600_000),
      nonce,
      etypes: ETYPES,
    };
    const body = encodeReqBody(req);
    const padata = [
      tgsApReq({
        tgt: tgt.ticket,
        sessionKey: tgt.sessionKey,
        crealm: tgt.crealm,
        cname: tgt.cname,
        body,
        nowMs: this.#now(),
      }),
    ];
    this.stats.tgsRequests++;
    const answer = decodeKdcAnswer(
      await kdcExchange(
        tgt.kdcs,
        encodeKdcRequest({ msgType: MSG.TGS_REQ, padata, ...req }, body),
        {
          timeoutMs: this.#opts.kdcTimeoutMs,
          signal,
        },
      ),
    );
    if ("error" in answer) {
      if (answer.error.code === KRB_ERR.AP_ERR_TKT_EXPIRED) this.#tgt = null;
      throw this.#tgsError(answer.error, spn);
    }
    const part = decryptKdcRepPart(answer.reply, tgt.sessionKey, USAGE.TGS_REP_ENC_PART_SESSION);
    if (part.nonce !== nonce) {
      throw new KerberosError("protocol", "the KDC's reply answers another request (nonce)");
    }
    const st: ServiceTicket = {
      ticket: answer.reply.ticket,
      sessionKey: part.key,
      crealm: answer.reply.crealm,
      cname: answer.reply.cname,
      endtime: part.endtime,
    };
    this.#tickets.set(spn.toLowerCase(), st);
    return st;
  }

  #asError(e: KrbError): KerberosError {
    return krbErrorToError(e, this.principal, this.#now());
  }

  #tgsError(e: KrbError, spn: string): KerberosError {
    if (e.code === KRB_ERR.S_PRINCIPAL_UNKNOWN) {
      return new KerberosError(
        "unknown_service",
        `SPN unknown: the KDC of ${this.realm} has no service principal ${spn}; register it ` +
          "for the host (setspn -S) or set the credential's SPN option to the name it has",
        e.code,
      );
    }
    return krbErrorToError(e, this.principal, this.#now());
  }
}

/** A KRB-ERROR as the typed error an operator can act on. */
export function krbErrorToError(e: KrbError, principal: string, nowMs: number): KerberosError {
  const text = e.eText ? ` (${e.eText})` : "";
  switch (e.code) {
    case KRB_ERR.C_PRINCIPAL_UNKNOWN:
      return new KerberosError(
        "unknown_client",
        `the KDC does not know the user ${principal}`,
        e.code,
      );
    case KRB_ERR.S_PRINCIPAL_UNKNOWN:
      return new KerberosError(
        "unknown_service",
        `SPN unknown: the KDC has no such service principal${text}`,
        e.code,
      );
    case KRB_ERR.PREAUTH_FAILED:
    case KRB_ERR.AP_ERR_BAD_INTEGRITY:
      return new KerberosError(
        "wrong_password",
        `the KDC rejected the password of ${principal}`,
        e.code,
      );
    case KRB_ERR.KEY_EXPIRED:
      return new KerberosError(
        "password_expired",
        `the password of ${principal} has expired: change it`,
        e.code,
      );
    case KRB_ERR.CLIENT_REVOKED:
      return new KerberosError(
        "locked",
        `the account ${principal} is locked out or disabled (KDC_ERR_CLIENT_REVOKED)`,
        e.code,
      );
    case KRB_ERR.AP_ERR_SKEW: {
      const s = Math.round((nowMs - e.stime) / 1000);
      return new KerberosError(
        "clock_skew",
        `clock skew too great: this host's clock is ${Math.abs(s)} s ${
          s > 0 ? "ahead of" : "behind"
        } ` +
          "the KDC's (Kerberos allows 5 minutes); synchronise the clocks (NTP)",
        e.code,
      );
    }
    case KRB_ERR.ETYPE_NOSUPP:
      return new KerberosError("etype", `the KDC has no AES key for ${principal}${text}`, e.code);
    default:
      return new KerberosError(
        "kdc_error",
        `the KDC refused the request: error ${e.code}${text}`,
        e.code,
      );
  }
}

/** Clients by credential within this isolate (one poller): their tickets outlive a poll. */
const registry = new Map<string, KerberosClient>();
const SALT = randomBytes(16);

export function kerberosClientFor(opts: KerberosCredentialOptions): KerberosClient {
  if (opts.now) return new KerberosClient(opts); // a test's own clock: its own tickets
  const id = createHash("sha256").update(SALT).update(opts.password).update("\0")
    .update(
      JSON.stringify([
        opts.principal,
        opts.realm ?? "",
        opts.kdcs ?? [],
        opts.nameServer ?? null,
        !!opts.allowRc4,
      ]),
    )
    .digest("base64url");
  let c = registry.get(id);
  if (!c) {
    if (registry.size > 1000) registry.clear();
    registry.set(id, c = new KerberosClient(opts));
  }
  return c;
}
