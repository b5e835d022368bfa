/** NTLMv2 client (initiator): NEGOTIATE -> CHALLENGE -> AUTHENTICATE (MS-NLMP §3.1.5). */
import { NtlmProtocolError } from "./errors.ts";
import { NtlmSession } from "./session.ts";
import {
  channelBindingsHash,
  computeMic,
  encryptSessionKey,
  fileTime,
  kxkey,
  lmv2Response,
  ntlmv2Blob,
  ntlmv2Response,
  rememberedNtowfv2,
} from "./crypto.ts";
import {
  AUTHENTICATE_MIC_OFFSET,
  decodeAvPairs,
  decodeChallenge,
  encodeAuthenticate,
  encodeAvPairs,
  encodeNegotiate,
  getAvPair,
  MSV_AV_CHANNEL_BINDINGS,
  MSV_AV_FLAG_MIC_PROVIDED,
  MSV_AV_FLAGS,
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
} from "./messages.ts";

export interface NtlmClientOptions {
  username: string;
  password: string;
  domain?: string;
  workstation?: string;
  /** DER of the server certificate over HTTPS, for channel binding */
  serverCertificate?: Uint8Array;
}

/** ntlm_auth's 0xE2889032 minus OEM_DOMAIN_SUPPLIED (we send no domain), plus UNICODE, NTLM, REQUEST_TARGET. */
export const CLIENT_NEGOTIATE_FLAGS = (NTLMSSP_NEGOTIATE_56 | NTLMSSP_NEGOTIATE_KEY_EXCH |
  NTLMSSP_NEGOTIATE_128 | NTLMSSP_NEGOTIATE_VERSION | NTLMSSP_NEGOTIATE_TARGET_INFO |
  NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY | NTLMSSP_NEGOTIATE_ALWAYS_SIGN |
  NTLMSSP_NEGOTIATE_NTLM | NTLMSSP_NEGOTIATE_SEAL | NTLMSSP_NEGOTIATE_SIGN |
  NTLMSSP_REQUEST_TARGET | NTLMSSP_NEGOTIATE_OEM | NTLMSSP_NEGOTIATE_UNICODE) >>> 0;

/** Test hooks: fixed randomness and clock so messages are reproducible. */
export interface NtlmClientTestHooks {
  clientChallenge?: Uint8Array;
  exportedSessionKey?: Uint8Array;
  timestamp?: Uint8Array;
}

export class NtlmClient {
  #opts: NtlmClientOptions;
  #negotiate?: Uint8Array;
  #session?: NtlmSession;
  #keys?: { exportedSessionKey: Uint8Array; flags: number };
  #hooks: NtlmClientTestHooks;

  constructor(opts: NtlmClientOptions, hooks: NtlmClientTestHooks = {}) {
    this.#opts = opts;
    this.#hooks = hooks;
  }

  /** type 1 message bytes */
  negotiate(): Uint8Array {
    this.#negotiate = encodeNegotiate({
      flags: CLIENT_NEGOTIATE_FLAGS,
      domain: "",
      workstation: "",
    });
    this.#session = undefined;
    return this.#negotiate;
  }

  /** type 3 message bytes; adds MsvAvFlags MIC + MIC when the challenge has MsvAvTimestamp, and MsvAvChannelBindings when serverCertificate is set */
  authenticate(challenge: Uint8Array): Uint8Array {
    const negotiate = this.#negotiate ?? this.negotiate();
    const chal = decodeChallenge(challenge);
    // Type 3 flags follow the server's choice, like ntlm_auth and Windows.
    const flags = chal.flags >>> 0;
    if (!(flags & NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY)) {
      throw new NtlmProtocolError("server did not offer extended session security");
    }
    // Without these the session keys shrink to 40 bits (§3.4.5.3): Windows always offers them,
    // so a challenge without them is someone on the path stripping them to read the session.
    if (!(flags & NTLMSSP_NEGOTIATE_128) || !(flags & NTLMSSP_NEGOTIATE_KEY_EXCH)) {
      throw new NtlmProtocolError(
        "server did not offer 128-bit keys and key exchange: its session would be weakly sealed",
      );
    }
    const { user, domain } = splitUsername(this.#opts.username, this.#opts.domain);

    const pairs = decodeAvPairs(chal.targetInfo);
    const serverTime = getAvPair(pairs, MSV_AV_TIMESTAMP);
    const withMic = serverTime !== undefined && serverTime.length === 8;
    if (withMic) {
      const existing = getAvPair(pairs, MSV_AV_FLAGS);
      const v = (existing && existing.length === 4
        ? new DataView(existing.buffer, existing.byteOffset).getUint32(0, true)
        : 0) | MSV_AV_FLAG_MIC_PROVIDED;
      setPair(pairs, MSV_AV_FLAGS, u32le(v));
    }
    if (this.#opts.serverCertificate) {
      setPair(pairs, MSV_AV_CHANNEL_BINDINGS, channelBindingsHash(this.#opts.serverCertificate));
    }

    const clientChallenge = this.#hooks.clientChallenge ?? rand(8);
    const timestamp = this.#hooks.timestamp ?? (withMic ? serverTime : fileTime());
    const responseKey = rememberedNtowfv2(this.#opts.password, user, domain);
    const blob = ntlmv2Blob(timestamp, clientChallenge, encodeAvPairs(pairs));
    const nt = ntlmv2Response(responseKey, chal.serverChallenge, blob);
    // With a server timestamp the LM response is Z(24) (§3.1.5.1.2).
    const lm = withMic
      ? new Uint8Array(24)
      : lmv2Response(responseKey, chal.serverChallenge, clientChallenge);

    const keyExchangeKey = kxkey(nt.sessionBaseKey);
    let exportedKey = keyExchangeKey;
    let encryptedKey: Uint8Array = new Uint8Array(0);
    if (flags & NTLMSSP_NEGOTIATE_KEY_EXCH) {
      exportedKey = this.#hooks.exportedSessionKey ?? rand(16);
      encryptedKey = encryptSessionKey(keyExchangeKey, exportedKey);
    }

    const msg = encodeAuthenticate({
      flags,
      lmChallengeResponse: lm,
      ntChallengeResponse: nt.ntChallengeResponse,
      domain,
      user,
      workstation: this.#opts.workstation ?? "",
      encryptedRandomSessionKey: encryptedKey,
      withMic,
    });
    if (withMic) {
      msg.set(computeMic(exportedKey, negotiate, challenge, msg), AUTHENTICATE_MIC_OFFSET);
    }
    this.#session = new NtlmSession({ exportedSessionKey: exportedKey, flags, isServer: false });
    this.#keys = { exportedSessionKey: exportedKey, flags };
    return msg;
  }

  /**
   * ExportedSessionKey and negotiated flags, available after authenticate(): DCE/RPC signs and
   * seals with its own framing (lib/wmi/security.ts), not with NtlmSession's.
   */
  get keys(): { exportedSessionKey: Uint8Array; flags: number } {
    if (!this.#keys) throw new NtlmProtocolError("NTLM session not established yet");
    return this.#keys;
  }

  /** available after authenticate() */
  get session(): NtlmSession {
    if (!this.#session) throw new NtlmProtocolError("NTLM session not established yet");
    return this.#session;
  }
}

/** "DOMAIN\\user", "user@domain" or "user" (+ optional explicit domain) -> {user, domain}; a qualifier in the name wins. */
export function splitUsername(username: string, domain?: string | null): {
  user: string;
  domain: string;
} {
  const bs = username.indexOf("\\");
  if (bs >= 0) return { user: username.slice(bs + 1), domain: username.slice(0, bs) };
  const at = username.lastIndexOf("@");
  if (at > 0 && at < username.length - 1) {
    return { user: username.slice(0, at), domain: username.slice(at + 1) };
  }
  return { user: username, domain: domain ?? "" };
}

function setPair(pairs: { id: number; value: Uint8Array }[], id: number, value: Uint8Array): void {
  const p = pairs.find((x) => x.id === id);
  if (p) p.value = value;
  else pairs.push({ id, value });
}

function u32le(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

function rand(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
