/**
 * Per-connection authentication like the WinRM service: Basic on every request, or NTLM (under
 * `Negotiate`, also accepted as `NTLM`) once per TCP connection, after which requests carry no
 * Authorization header (REFERENCE §5.2). NTLM comes raw or wrapped in SPNEGO (NegTokenInit,
 * then NegTokenResp), and is answered in the form it came in, as Windows does.
 *
 * Defaults are a stock Windows Server's; the strict settings are options: channel binding
 * required on HTTPS (CbtHardeningLevel=Strict; the default Relaxed checks it when sent),
 * SPNEGO-wrapped NTLM refused.
 */
import type { NtlmSession } from "../lib/winrm/ntlm/session.ts";
import {
  NEG_STATE,
  type NegotiateToken,
  negTokenResp,
  readNegotiateToken,
} from "../lib/winrm/ntlm/spnego.ts";
import type { HttpRequest } from "./http.ts";
import type { Sealer } from "../lib/winrm/encryption.ts";
import { KERBEROS_PROTOCOL, KerberosSealer } from "../lib/winrm/kerberos_auth.ts";
import { channelBindingsHash } from "../lib/winrm/ntlm/channel_bindings.ts";
import { AcceptorContext, KRB5_OID, unframe } from "../lib/kerberos/gss.ts";
import { type KeytabEntry, keytabKeyFor } from "../lib/kerberos/keytab.ts";
import {
  isSpnegoInit,
  NEG_STATE as KRB_NEG_STATE,
  negTokenResp as krbNegTokenResp,
  offersKerberos,
  readNegTokenInit,
  readNegTokenResp as krbReadNegTokenResp,
} from "../lib/kerberos/spnego.ts";
import type { HostState } from "./hosts.ts";
import { NtlmAcceptor } from "./ntlm_acceptor.ts";
import { decodeBase64 } from "../lib/crypto/base64.ts";

export interface AuthConfig {
  username: string;
  password: string;
  /** offer and accept Basic */
  basic: boolean;
  /** accept Basic and unsealed SOAP over plain HTTP (WinRM AllowUnencrypted) */
  allowUnencrypted: boolean;
  /**
   * WinRM CbtHardeningLevel on HTTPS: "relaxed" (Windows' default) checks channel binding when
   * the client sends it, "strict" also refuses clients that send none, "none" ignores it
   */
  cbtHardening?: "none" | "relaxed" | "strict";
  /** accept NTLM wrapped in SPNEGO (default true, like Windows); false takes raw NTLMSSP only */
  spnego?: boolean;
  /** wrap the CHALLENGE in a NegTokenResp even for a raw NEGOTIATE (a peer some clients meet) */
  spnegoAlways?: boolean;
  /** accept Kerberos with these service keys (a keytab's entries for the host's SPN) */
  /** requireMic: answer a SPNEGO AP-REQ with request-mic and wait for the client's mechListMIC */
  kerberos?: { keys: KeytabEntry[]; maxSkewMs?: number; requireMic?: boolean };
}

export type AuthOutcome =
  | { ok: true; session?: NtlmSession | Sealer; headers?: Array<[string, string]> }
  | { ok: false; headers: Array<[string, string]> };

/** Strip `DOMAIN\` / `.\` / `@domain`: the simulator has one local account. */
export function accountName(user: string): string {
  const slash = user.lastIndexOf("\\");
  const bare = slash >= 0 ? user.slice(slash + 1) : user;
  const at = bare.indexOf("@");
  return (at >= 0 ? bare.slice(0, at) : bare).toLowerCase();
}

export class ConnectionAuth {
  #session?: NtlmSession | Sealer;
  /** a Kerberos context waiting for the client's mechListMIC (kerberos.requireMic) */
  #awaitingMic?: { acceptor: AcceptorContext; mechTypes: Uint8Array };
  #acceptor?: NtlmAcceptor;
  /** the handshake so far came wrapped in SPNEGO: so do our answers */
  #spnego = false;

  constructor(
    private readonly cfg: AuthConfig,
    private readonly host: HostState,
    /** DER of the TLS certificate when this connection is HTTPS */
    private readonly certificate?: Uint8Array,
  ) {}

  get tls(): boolean {
    return this.certificate !== undefined;
  }

  /** The 401 a client sees when it must (re)authenticate. */
  challengeHeaders(): Array<[string, string]> {
    const h: Array<[string, string]> = [["WWW-Authenticate", "Negotiate"]];
    if (this.cfg.basic) h.push(["WWW-Authenticate", 'Basic realm="WSMAN"']);
    return h;
  }

  authenticate(req: HttpRequest): AuthOutcome {
    const deny = (failure: boolean): AuthOutcome => {
      if (failure) this.host.stats.authFailures++;
      return { ok: false, headers: this.challengeHeaders() };
    };
    if (this.host.fault?.kind === "unauthorized") {
      this.#session = undefined;
      return deny(true);
    }
    const header = req.headers.get("authorization");
    if (!header) return this.#session ? { ok: true, session: this.#session } : deny(false);
    const space = header.indexOf(" ");
    const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
    const token = space < 0 ? "" : header.slice(space + 1).trim();

    if (scheme === "basic") {
      if (!this.cfg.basic || (!this.tls && !this.cfg.allowUnencrypted)) return deny(true);
      let decoded: string;
      try {
        decoded = new TextDecoder().decode(decodeBase64(token));
      } catch {
        return deny(true);
      }
      const colon = decoded.indexOf(":");
      const ok = colon > 0 &&
        accountName(decoded.slice(0, colon)) === accountName(this.cfg.username) &&
        decoded.slice(colon + 1) === this.cfg.password;
      if (!ok) return deny(true);
      this.host.stats.basicAuths++;
      return { ok: true };
    }

    if (scheme !== "negotiate" && scheme !== "ntlm" && scheme !== "kerberos") return deny(true);
    if (this.cfg.kerberos && scheme !== "ntlm") {
      const krb = this.#kerberos(token, scheme === "kerberos" ? "Kerberos" : "Negotiate");
      if (krb) return krb;
    }
    let parsed: NegotiateToken;
    try {
      parsed = readNegotiateToken(decodeBase64(token));
    } catch {
      // Kerberos tokens are neither: refuse them so the client falls back.
      return deny(true);
    }
    if (parsed.form !== "raw" && this.cfg.spnego === false) return deny(true);
    const bytes = parsed.ntlm;
    if (!bytes || bytes.length < 12) return deny(true);
    const type = bytes[8];
    // A new handshake on an authenticated connection replaces the old context.
    this.#session = undefined;
    const name = scheme === "ntlm" ? "NTLM" : "Negotiate";
    if (type === 1 && parsed.form !== "resp") {
      this.#spnego = parsed.form === "init" || this.cfg.spnegoAlways === true;
      const cbt = this.cfg.cbtHardening ?? "relaxed";
      this.#acceptor = new NtlmAcceptor({
        lookupPassword: (user) =>
          accountName(user) === accountName(this.cfg.username) ? this.cfg.password : undefined,
        targetName: this.host.profile.name,
        certificate: cbt === "none" ? undefined : this.certificate,
        requireChannelBinding: this.tls && cbt === "strict",
      });
      try {
        const challenge = this.#acceptor.challenge(bytes);
        const out = this.#spnego
          ? negTokenResp({
            negState: NEG_STATE.acceptIncomplete,
            supportedMech: true,
            responseToken: challenge,
          })
          : challenge;
        return { ok: false, headers: [["WWW-Authenticate", `${name} ${b64(out)}`]] };
      } catch {
        this.#acceptor = undefined;
        return deny(true);
      }
    }
    // The AUTHENTICATE comes in the form the CHALLENGE went out in (an SPNEGO context takes
    // only NegTokenResp).
    if (type === 3 && this.#acceptor && parsed.form === (this.#spnego ? "resp" : "raw")) {
      const acceptor = this.#acceptor;
      this.#acceptor = undefined;
      try {
        this.#session = acceptor.accept(bytes).session;
      } catch {
        if (!this.#spnego) return deny(true);
        this.host.stats.authFailures++;
        const reject = b64(negTokenResp({ negState: NEG_STATE.reject }));
        return { ok: false, headers: [["WWW-Authenticate", `${name} ${reject}`]] };
      }
      this.host.stats.authHandshakes++;
      // The mechListMIC a client may add is not checked (nor is one sent back).
      return {
        ok: true,
        session: this.#session,
        headers: this.#spnego
          ? [[
            "WWW-Authenticate",
            `${name} ${b64(negTokenResp({ negState: NEG_STATE.acceptCompleted }))}`,
          ]]
          : undefined,
      };
    }
    return deny(true);
  }

  /** Accepts a Kerberos AP-REQ (null when the token is not Kerberos: NTLM then tries it). */
  #kerberos(token: string, name: string): AuthOutcome | null {
    let bytes: Uint8Array;
    try {
      bytes = decodeBase64(token);
    } catch {
      return null;
    }
    const waiting = this.#awaitingMic;
    this.#awaitingMic = undefined;
    if (waiting && bytes[0] === 0xa1) return this.#mechListMic(waiting, bytes, name);
    const krb = kerberosToken(bytes);
    if (!krb) return null;
    this.#session = undefined;
    const acceptor = new AcceptorContext();
    const cbt = this.cfg.cbtHardening ?? "relaxed";
    let apRep: Uint8Array;
    try {
      apRep = acceptor.accept(
        krb.apReq,
        (etype, kvno) => keytabKeyFor(this.cfg.kerberos!.keys, etype, kvno),
        {
          nowMs: Date.now(),
          expectedBindings: this.tls && cbt !== "none"
            ? channelBindingsHash(this.certificate!)
            : null,
          requireBindings: this.tls && cbt === "strict",
          maxSkewMs: this.cfg.kerberos!.maxSkewMs,
        },
      );
    } catch (err) {
      if (Deno.env.get("WINSIM_DEBUG")) console.error("kerberos accept failed:", err);
      this.host.stats.authFailures++;
      return { ok: false, headers: this.challengeHeaders() };
    }
    const user = accountName(acceptor.request.client.name.names.join("/"));
    if (user !== accountName(this.cfg.username)) {
      this.host.stats.authFailures++;
      return { ok: false, headers: this.challengeHeaders() };
    }
    if (krb.spnego && this.cfg.kerberos!.requireMic) {
      // RFC 4178 §5: the context is made, but the negotiation completes only when the
      // initiator's mechListMIC over the mechTypes it offered verifies.
      this.#awaitingMic = { acceptor, mechTypes: krb.mechTypes! };
      const out = krbNegTokenResp({
        negState: KRB_NEG_STATE.requestMic,
        supportedMech: KRB5_OID,
        responseToken: apRep,
      });
      return { ok: false, headers: [["WWW-Authenticate", `${name} ${b64(out)}`]] };
    }
    this.host.stats.authHandshakes++;
    this.#session = new KerberosSealer(acceptor, KERBEROS_PROTOCOL);
    const out = krb.spnego
      ? krbNegTokenResp({
        negState: KRB_NEG_STATE.acceptCompleted,
        supportedMech: KRB5_OID,
        responseToken: apRep,
      })
      : apRep;
    return {
      ok: true,
      session: this.#session,
      headers: [["WWW-Authenticate", `${name} ${b64(out)}`]],
    };
  }

  /** The second leg under requireMic: the client's mechListMIC, then ours back. */
  #mechListMic(
    waiting: { acceptor: AcceptorContext; mechTypes: Uint8Array },
    bytes: Uint8Array,
    name: string,
  ): AuthOutcome {
    try {
      const resp = krbReadNegTokenResp(bytes);
      if (!resp.mechListMic) throw new Error("no mechListMIC");
      waiting.acceptor.verifyMic(waiting.mechTypes, resp.mechListMic);
    } catch (err) {
      if (Deno.env.get("WINSIM_DEBUG")) console.error("mechListMIC refused:", err);
      this.host.stats.authFailures++;
      const reject = b64(krbNegTokenResp({ negState: KRB_NEG_STATE.reject }));
      return { ok: false, headers: [["WWW-Authenticate", `${name} ${reject}`]] };
    }
    this.host.stats.authHandshakes++;
    this.#session = new KerberosSealer(waiting.acceptor, KERBEROS_PROTOCOL);
    const out = krbNegTokenResp({
      negState: KRB_NEG_STATE.acceptCompleted,
      mechListMic: waiting.acceptor.getMic(waiting.mechTypes),
    });
    return {
      ok: true,
      session: this.#session,
      headers: [["WWW-Authenticate", `${name} ${b64(out)}`]],
    };
  }
}

/** The AP-REQ a Negotiate token carries: raw (requests-kerberos) or in a NegTokenInit. */
function kerberosToken(
  bytes: Uint8Array,
): { apReq: Uint8Array; spnego: boolean; mechTypes?: Uint8Array } | null {
  if (bytes[0] !== 0x60) return null;
  try {
    if (isSpnegoInit(bytes)) {
      const init = readNegTokenInit(bytes);
      if (!init.mechToken || !offersKerberos(init.mechTypes)) return null;
      unframe(init.mechToken);
      return { apReq: init.mechToken, spnego: true, mechTypes: init.mechTypes };
    }
    unframe(bytes);
    return { apReq: bytes, spnego: false };
  } catch {
    return null;
  }
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
