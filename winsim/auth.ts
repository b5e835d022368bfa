/**
 * Per-connection authentication like the WinRM service: Basic on every request, or NTLM (under
 * `Negotiate`, also accepted as `NTLM`) once per TCP connection, after which requests carry no
 * Authorization header (REFERENCE §5.2).
 */
import type { NtlmSession } from "../lib/winrm/ntlm/session.ts";
import type { HttpRequest } from "./http.ts";
import type { HostState } from "./hosts.ts";
import { NtlmAcceptor } from "./ntlm_acceptor.ts";

export interface AuthConfig {
  username: string;
  password: string;
  /** offer and accept Basic */
  basic: boolean;
  /** accept Basic and unsealed SOAP over plain HTTP (WinRM AllowUnencrypted) */
  allowUnencrypted: boolean;
}

export type AuthOutcome =
  | { ok: true; session?: NtlmSession }
  | { ok: false; headers: Array<[string, string]> };

const NTLMSSP = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00];

/** Strip `DOMAIN\` / `.\` / `@domain`: the simulator has one local account. */
export function accountName(user: string): string {
  const slash = user.lastIndexOf("\\");
  const bare = slash >= 0 ? user.slice(slash + 1) : user;
  const at = bare.indexOf("@");
  return (at >= 0 ? bare.slice(0, at) : bare).toLowerCase();
}

export class ConnectionAuth {
  #session?: NtlmSession;
  #acceptor?: NtlmAcceptor;

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
        decoded = new TextDecoder().decode(Uint8Array.from(atob(token), (c) => c.charCodeAt(0)));
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

    if (scheme !== "negotiate" && scheme !== "ntlm") return deny(true);
    let bytes: Uint8Array;
    try {
      bytes = Uint8Array.from(atob(token), (c) => c.charCodeAt(0));
    } catch {
      return deny(true);
    }
    // Kerberos/SPNEGO tokens are not NTLMSSP: refuse them so the client falls back.
    if (bytes.length < 12 || NTLMSSP.some((b, i) => bytes[i] !== b)) return deny(true);
    const type = bytes[8];
    // A new handshake on an authenticated connection replaces the old context.
    this.#session = undefined;
    if (type === 1) {
      this.#acceptor = new NtlmAcceptor({
        lookupPassword: (user) =>
          accountName(user) === accountName(this.cfg.username) ? this.cfg.password : undefined,
        targetName: this.host.profile.name,
        certificate: this.certificate,
        requireChannelBinding: this.tls,
      });
      try {
        const challenge = this.#acceptor.challenge(bytes);
        const name = scheme === "ntlm" ? "NTLM" : "Negotiate";
        return { ok: false, headers: [["WWW-Authenticate", `${name} ${b64(challenge)}`]] };
      } catch {
        this.#acceptor = undefined;
        return deny(true);
      }
    }
    if (type === 3 && this.#acceptor) {
      const acceptor = this.#acceptor;
      this.#acceptor = undefined;
      try {
        this.#session = acceptor.accept(bytes).session;
      } catch {
        return deny(true);
      }
      this.host.stats.authHandshakes++;
      return { ok: true, session: this.#session };
    }
    return deny(true);
  }
}

function b64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
