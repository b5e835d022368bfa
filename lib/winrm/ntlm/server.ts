/**
 * NTLMv2 server (acceptor) logic: issues the CHALLENGE and verifies the
 * AUTHENTICATE message (NTProofStr, MIC, channel bindings) (MS-NLMP §3.2.5).
 */
import { NtlmAuthenticationError, NtlmProtocolError } from "./errors.ts";
import { NtlmSession } from "./session.ts";
import {
  channelBindingsHash,
  computeMic,
  exportedSessionKey,
  fileTime,
  hmacMd5,
  kxkey,
  rememberedNtowfv2,
  sessionBaseKey,
} from "./crypto.ts";
import {
  AUTHENTICATE_MIC_OFFSET,
  type AuthenticateMessage,
  decodeAuthenticate,
  decodeAvPairs,
  decodeNegotiate,
  encodeAvPairs,
  encodeChallenge,
  getAvPair,
  MSV_AV_CHANNEL_BINDINGS,
  MSV_AV_DNS_COMPUTER_NAME,
  MSV_AV_DNS_DOMAIN_NAME,
  MSV_AV_FLAG_MIC_PROVIDED,
  MSV_AV_FLAGS,
  MSV_AV_NB_COMPUTER_NAME,
  MSV_AV_NB_DOMAIN_NAME,
  MSV_AV_TIMESTAMP,
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN,
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
  NTLMSSP_NEGOTIATE_NTLM,
  NTLMSSP_NEGOTIATE_OEM,
  NTLMSSP_NEGOTIATE_SEAL,
  NTLMSSP_NEGOTIATE_SIGN,
  NTLMSSP_NEGOTIATE_TARGET_INFO,
  NTLMSSP_NEGOTIATE_UNICODE,
  NTLMSSP_NEGOTIATE_VERSION,
  NTLMSSP_REQUEST_TARGET,
  NTLMSSP_TARGET_TYPE_SERVER,
} from "./messages.ts";
import { constantTimeEqual, encodeString } from "./wire.ts";

export interface NtlmServerOptions {
  lookupPassword(user: string, domain: string): string | undefined;
  /** NetBIOS name of the host; also used as the domain name (a standalone server) */
  targetName?: string;
  /** DER of our TLS certificate when serving HTTPS: the client's MsvAvChannelBindings must match */
  certificate?: Uint8Array;
  /** reject clients that send no channel bindings (CbtHardeningLevel=Strict) */
  requireChannelBinding?: boolean;
}

/** Flags the server echoes when the client asks for them. */
const ECHOED = NTLMSSP_NEGOTIATE_UNICODE | NTLMSSP_NEGOTIATE_SIGN | NTLMSSP_NEGOTIATE_SEAL |
  NTLMSSP_NEGOTIATE_ALWAYS_SIGN | NTLMSSP_NEGOTIATE_KEY_EXCH | NTLMSSP_NEGOTIATE_128 |
  NTLMSSP_NEGOTIATE_56 | NTLMSSP_NEGOTIATE_VERSION;

const NT_BLOB_AV_OFFSET = 16 + 28; // NTProofStr + fixed part of the NTLMv2 client blob

/** One handshake: challenge() then accept(); create a new one per connection. */
export class NtlmServer {
  #opts: NtlmServerOptions;
  #negotiate?: Uint8Array;
  #challenge?: Uint8Array;
  #serverChallenge?: Uint8Array;

  constructor(opts: NtlmServerOptions) {
    this.#opts = opts;
  }

  /** takes type 1, returns type 2 (with MsvAvTimestamp in TargetInfo, random 8-byte server challenge) */
  challenge(negotiate: Uint8Array, serverChallenge?: Uint8Array): Uint8Array {
    const neg = decodeNegotiate(negotiate);
    const unicode = (neg.flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
    // ESS is always chosen: NtlmSession implements only the ESS scheme.
    const flags = ((neg.flags & ECHOED) | (unicode ? 0 : NTLMSSP_NEGOTIATE_OEM) |
      NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_TARGET_TYPE_SERVER |
      NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP_NEGOTIATE_TARGET_INFO) >>> 0;
    const name = (this.#opts.targetName ?? "WINSIM").toUpperCase();
    const dns = name.toLowerCase();
    const targetInfo = encodeAvPairs([
      { id: MSV_AV_NB_DOMAIN_NAME, value: encodeString(name, true) },
      { id: MSV_AV_NB_COMPUTER_NAME, value: encodeString(name, true) },
      { id: MSV_AV_DNS_DOMAIN_NAME, value: encodeString(dns, true) },
      { id: MSV_AV_DNS_COMPUTER_NAME, value: encodeString(dns, true) },
      { id: MSV_AV_TIMESTAMP, value: fileTime() },
    ]);
    this.#serverChallenge = serverChallenge ?? crypto.getRandomValues(new Uint8Array(8));
    this.#negotiate = negotiate.slice();
    this.#challenge = encodeChallenge({
      flags,
      targetName: name,
      serverChallenge: this.#serverChallenge,
      targetInfo,
    });
    return this.#challenge;
  }

  /** takes type 3; verifies NTProofStr (password), MIC, and channel bindings when certificate is set */
  accept(authenticate: Uint8Array): {
    user: string;
    domain: string;
    session: NtlmSession;
    /** ExportedSessionKey and flags, for DCE/RPC's own sign/seal framing */
    keys: { exportedSessionKey: Uint8Array; flags: number };
  } {
    const negotiate = this.#negotiate;
    const challenge = this.#challenge;
    const serverChallenge = this.#serverChallenge;
    // A challenge answers exactly one AUTHENTICATE; replays need a new handshake.
    this.#negotiate = this.#challenge = this.#serverChallenge = undefined;
    if (!negotiate || !challenge || !serverChallenge) {
      throw new NtlmProtocolError("AUTHENTICATE received without a pending CHALLENGE");
    }
    const auth = decodeAuthenticate(authenticate);
    const nt = auth.ntChallengeResponse;
    if (nt.length === 0) throw new NtlmAuthenticationError("anonymous NTLM logon is not allowed");
    if (nt.length < NT_BLOB_AV_OFFSET + 4) {
      throw new NtlmProtocolError("only NTLMv2 responses are supported");
    }
    const pairs = decodeAvPairs(nt.subarray(NT_BLOB_AV_OFFSET));

    const password = this.#opts.lookupPassword(auth.user, auth.domain);
    if (password === undefined) throw new NtlmAuthenticationError("NTLM logon failed");
    const responseKey = rememberedNtowfv2(password, auth.user, auth.domain);
    const proof = hmacMd5(responseKey, serverChallenge, nt.subarray(16));
    if (!constantTimeEqual(proof, nt.subarray(0, 16))) {
      throw new NtlmAuthenticationError("NTLM logon failed");
    }

    const exportedKey = exportedSessionKey(
      auth.flags,
      kxkey(sessionBaseKey(responseKey, proof)),
      auth.encryptedRandomSessionKey,
    );
    verifyMic(auth, pairs, exportedKey, negotiate, challenge, authenticate);
    this.#verifyChannelBindings(getAvPair(pairs, MSV_AV_CHANNEL_BINDINGS));

    const session = new NtlmSession({
      exportedSessionKey: exportedKey,
      flags: auth.flags,
      isServer: true,
    });
    return {
      user: auth.user,
      domain: auth.domain,
      session,
      keys: { exportedSessionKey: exportedKey, flags: auth.flags },
    };
  }

  #verifyChannelBindings(got: Uint8Array | undefined): void {
    const cert = this.#opts.certificate;
    if (!cert) return;
    // Absent or all-zero bindings mean "client has none": allowed unless hardening is strict.
    const missing = !got || got.every((b) => b === 0);
    if (missing) {
      if (this.#opts.requireChannelBinding) {
        throw new NtlmProtocolError("NTLM channel binding required but not provided");
      }
      return;
    }
    if (!constantTimeEqual(got, channelBindingsHash(cert))) {
      throw new NtlmProtocolError("NTLM channel binding does not match the TLS certificate");
    }
  }
}

function verifyMic(
  auth: AuthenticateMessage,
  pairs: { id: number; value: Uint8Array }[],
  exportedKey: Uint8Array,
  negotiate: Uint8Array,
  challenge: Uint8Array,
  authenticate: Uint8Array,
): void {
  const avFlags = getAvPair(pairs, MSV_AV_FLAGS);
  const micProvided = avFlags !== undefined && avFlags.length === 4 &&
    (new DataView(avFlags.buffer, avFlags.byteOffset).getUint32(0, true) &
        MSV_AV_FLAG_MIC_PROVIDED) !== 0;
  if (!micProvided) return; // legacy clients omit the MIC; Windows accepts that too
  if (!auth.mic) throw new NtlmProtocolError("NTLM MIC announced but missing");
  const zeroed = authenticate.slice();
  zeroed.fill(0, AUTHENTICATE_MIC_OFFSET, AUTHENTICATE_MIC_OFFSET + 16);
  if (!constantTimeEqual(auth.mic, computeMic(exportedKey, negotiate, challenge, zeroed))) {
    throw new NtlmProtocolError("NTLM MIC does not verify");
  }
}

/**
 * Derives the server-side session from a captured AUTHENTICATE message and the
 * password, without the server challenge (SessionBaseKey only needs NTProofStr).
 * Used to decrypt recorded traffic; it does not authenticate anyone.
 */
export function sessionFromAuthenticate(authenticate: Uint8Array, password: string): NtlmSession {
  const auth = decodeAuthenticate(authenticate);
  if (auth.ntChallengeResponse.length < NT_BLOB_AV_OFFSET) {
    throw new NtlmProtocolError("only NTLMv2 responses are supported");
  }
  const responseKey = rememberedNtowfv2(password, auth.user, auth.domain);
  const baseKey = sessionBaseKey(responseKey, auth.ntChallengeResponse.subarray(0, 16));
  const exportedKey = exportedSessionKey(
    auth.flags,
    kxkey(baseKey),
    auth.encryptedRandomSessionKey,
  );
  return new NtlmSession({ exportedSessionKey: exportedKey, flags: auth.flags, isServer: true });
}
