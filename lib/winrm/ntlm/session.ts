/**
 * Connection-oriented NTLM session security (MS-NLMP §3.4) with extended
 * session security: sign/seal with per-direction keys and RC4 streams that
 * persist for the whole security context (never re-keyed).
 */
import { Rc4 } from "./rc4.ts";
import { HmacMd5 } from "./md5.ts";
import { NtlmIntegrityError, NtlmProtocolError } from "./errors.ts";
import { sealKey, signKey } from "./crypto.ts";
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

interface Channel {
  hmac: HmacMd5;
  rc4: Rc4;
  seq: number;
}

/** Size of an NTLMSSP_MESSAGE_SIGNATURE. */
export const SIGNATURE_LENGTH = 16;

export class NtlmSession {
  readonly flags: number;
  readonly isServer: boolean;
  #out: Channel;
  #in: Channel;
  #keyExch: boolean;
  #seqBuf = new Uint8Array(4);
  #mac = new Uint8Array(16);
  #expected = new Uint8Array(SIGNATURE_LENGTH);

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
    this.#keyExch = (opts.flags & NTLMSSP_NEGOTIATE_KEY_EXCH) !== 0;
    const key = opts.exportedSessionKey;
    const c2s = {
      hmac: new HmacMd5(signKey(key, "client-to-server")),
      rc4: new Rc4(sealKey(key, opts.flags, "client-to-server")),
      seq: 0,
    };
    const s2c = {
      hmac: new HmacMd5(signKey(key, "server-to-client")),
      rc4: new Rc4(sealKey(key, opts.flags, "server-to-client")),
      seq: 0,
    };
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
   * message encryption framing builds the whole body in one array this way).
   */
  sealInto(plain: Uint8Array, out: Uint8Array, at: number, sig: Uint8Array, sigAt: number) {
    const ch = this.#out;
    ch.rc4.updateInto(plain, out, at); // the message first, then the checksum: one keystream
    this.#signatureInto(ch, plain, sig, sigAt);
  }

  /** throws NtlmIntegrityError when the signature does not verify */
  unseal(sealed: Uint8Array, signature: Uint8Array): Uint8Array {
    const ch = this.#in;
    if (signature.length !== SIGNATURE_LENGTH) {
      throw new NtlmIntegrityError("NTLM signature has the wrong length");
    }
    const plain = ch.rc4.update(sealed);
    this.#check(ch, plain, signature);
    return plain;
  }

  sign(msg: Uint8Array): Uint8Array {
    const sig = new Uint8Array(SIGNATURE_LENGTH);
    this.#signatureInto(this.#out, msg, sig, 0);
    return sig;
  }

  verify(msg: Uint8Array, sig: Uint8Array): void {
    if (sig.length !== SIGNATURE_LENGTH) {
      throw new NtlmIntegrityError("NTLM signature has the wrong length");
    }
    this.#check(this.#in, msg, sig);
  }

  /**
   * Version ‖ Checksum ‖ SeqNum into sig[at..at+16], advancing the channel's sequence
   * number (§3.4.4.2). Checksum = HMAC_MD5(SigningKey, SeqNum ‖ Message)[0..8], sealed
   * with the channel's RC4 when KEY_EXCH was negotiated.
   */
  #signatureInto(ch: Channel, msg: Uint8Array, sig: Uint8Array, at: number) {
    const seq = ch.seq;
    const sb = this.#seqBuf;
    sb[0] = seq & 0xff;
    sb[1] = (seq >>> 8) & 0xff;
    sb[2] = (seq >>> 16) & 0xff;
    sb[3] = (seq >>> 24) & 0xff;
    const mac = this.#mac;
    ch.hmac.macInto(sb, msg, mac, 0);
    if (this.#keyExch) ch.rc4.updateInto(this.#mac.subarray(0, 8), mac, 0);
    sig[at] = 1;
    sig[at + 1] = 0;
    sig[at + 2] = 0;
    sig[at + 3] = 0;
    for (let i = 0; i < 8; i++) sig[at + 4 + i] = mac[i];
    sig.set(sb, at + 12);
    ch.seq = (seq + 1) >>> 0;
  }

  #check(ch: Channel, msg: Uint8Array, sig: Uint8Array): void {
    const expected = this.#expected;
    this.#signatureInto(ch, msg, expected, 0);
    if (!constantTimeEqual(expected, sig)) {
      throw new NtlmIntegrityError("NTLM message signature does not verify");
    }
  }
}
