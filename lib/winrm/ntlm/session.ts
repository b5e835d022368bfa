/**
 * Connection-oriented NTLM session security (MS-NLMP §3.4) with extended
 * session security: sign/seal with per-direction keys and RC4 streams that
 * persist for the whole security context (never re-keyed).
 */
import { SealChannel, SIGNATURE_LENGTH } from "./seal_channel.ts";
import { NtlmIntegrityError, NtlmProtocolError } from "./errors.ts";
import { type Direction, sealKey, signKey } from "./crypto.ts";
import {
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
} from "./messages.ts";
import { constantTimeEqual } from "./wire.ts";

export interface NtlmSessionOptions {
  /** ExportedSessionKey (16 bytes) */
  exportedSessionKey: Uint8Array;
  /** negotiated flags (those of the AUTHENTICATE message) */
  flags: number;
  /** true for the acceptor side: it seals with the server-to-client keys */
  isServer: boolean;
}

/** Size of an NTLMSSP_MESSAGE_SIGNATURE. */
export { SIGNATURE_LENGTH };

export class NtlmSession {
  readonly flags: number;
  readonly isServer: boolean;
  #out: SealChannel;
  #in: SealChannel;

  constructor(opts: NtlmSessionOptions) {
    if (!(opts.flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)) {
      // Every NTLMv2 peer (Windows, ntlm_auth) negotiates ESS; the legacy scheme is not worth carrying.
      throw new NtlmProtocolError(
        "NTLM session without extended session security is not supported",
      );
    }
    if (opts.exportedSessionKey.length !== 16) {
      throw new NtlmProtocolError("exported session key must be 16 bytes");
    }
    this.flags = opts.flags;
    this.isServer = opts.isServer;
    const keyExch = (opts.flags & NTLMSSP_NEGOTIATE_KEY_EXCH) !== 0;
    const key = opts.exportedSessionKey;
    const channel = (dir: Direction) =>
      new SealChannel(signKey(key, dir), sealKey(key, opts.flags, dir), keyExch);
    const c2s = channel("client-to-server");
    const s2c = channel("server-to-client");
    this.#out = opts.isServer ? s2c : c2s;
    this.#in = opts.isServer ? c2s : s2c;
  }

  /** for the side that created it: client sessions seal with client keys, server sessions with server keys */
  seal(plain: Uint8Array): { signature: Uint8Array; sealed: Uint8Array } {
    const sealed = new Uint8Array(plain.length);
    const signature = new Uint8Array(SIGNATURE_LENGTH);
    this.sealInto(plain, sealed, 0, signature, 0);
    return { signature, sealed };
  }

  /**
   * Seals `plain` into out[at..] and writes its signature to sig[sigAt..sigAt+16] (the
   * message encryption framing builds the whole body in one array this way). The checksum
   * is over the plaintext; the RC4 stream runs over the message, then the checksum (§3.4.4.2).
   */
  sealInto(plain: Uint8Array, out: Uint8Array, at: number, sig: Uint8Array, sigAt: number) {
    this.#out.seal(plain, out, at, sig, sigAt);
  }

  /** throws NtlmIntegrityError when the signature does not verify */
  unseal(sealed: Uint8Array, signature: Uint8Array): Uint8Array {
    return this.unsealWith(sealed, signature, (plain) => plain.slice());
  }

  /**
   * Unseals and hands the plaintext to `use` as a view valid only during the call (decode
   * or copy it there: the next seal or unseal reuses the memory); returns what `use` returns.
   * Throws NtlmIntegrityError when the signature does not verify.
   */
  unsealWith<T>(sealed: Uint8Array, signature: Uint8Array, use: (plain: Uint8Array) => T): T {
    if (signature.length !== SIGNATURE_LENGTH) {
      throw new NtlmIntegrityError("NTLM signature has the wrong length");
    }
    return this.#in.unseal(sealed, signature, use);
  }

  /**
   * Version ‖ Checksum ‖ SeqNum, Checksum = HMAC_MD5(SigningKey, SeqNum ‖ Message)[0..8],
   * sealed with the channel's RC4 when KEY_EXCH was negotiated (§3.4.4.2).
   */
  sign(msg: Uint8Array): Uint8Array {
    const sig = new Uint8Array(SIGNATURE_LENGTH);
    this.#out.sign(msg, sig, 0);
    return sig;
  }

  verify(msg: Uint8Array, sig: Uint8Array): void {
    if (sig.length !== SIGNATURE_LENGTH) {
      throw new NtlmIntegrityError("NTLM signature has the wrong length");
    }
    const expected = new Uint8Array(SIGNATURE_LENGTH);
    this.#in.sign(msg, expected, 0);
    if (!constantTimeEqual(expected, sig)) {
      throw new NtlmIntegrityError("NTLM message signature does not verify");
    }
  }
}
