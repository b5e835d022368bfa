/**
 * Server side of NTLM for the simulated Windows host. Thin on purpose: the
 * protocol and crypto live in lib/winrm/ntlm/server.ts, shared with tests.
 */
import { NtlmServer, type NtlmServerOptions } from "../lib/winrm/ntlm/server.ts";
import type { NtlmSession } from "../lib/winrm/ntlm/session.ts";

export {
  NtlmAuthenticationError,
  NtlmIntegrityError,
  NtlmProtocolError,
} from "../lib/winrm/ntlm/errors.ts";

export interface NtlmAcceptorOptions extends NtlmServerOptions {
  lookupPassword(user: string, domain: string): string | undefined;
  targetName?: string;
  /** DER of our TLS certificate when serving HTTPS: the client's MsvAvChannelBindings must match */
  certificate?: Uint8Array;
  requireChannelBinding?: boolean;
}

/** One NTLM handshake per TCP connection: challenge() then accept(). */
export class NtlmAcceptor {
  #server: NtlmServer;

  constructor(opts: NtlmAcceptorOptions) {
    this.#server = new NtlmServer(opts);
  }

  /** takes type 1, returns type 2 (with MsvAvTimestamp in TargetInfo, random 8-byte server challenge) */
  challenge(negotiate: Uint8Array): Uint8Array {
    return this.#server.challenge(negotiate);
  }

  /** takes type 3; throws NtlmAuthenticationError on a wrong password, NtlmProtocolError on bad MIC/CBT/garbage */
  accept(authenticate: Uint8Array): { user: string; domain: string; session: NtlmSession } {
    return this.#server.accept(authenticate);
  }
}
