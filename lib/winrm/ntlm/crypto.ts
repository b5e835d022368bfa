/**
 * NTLMv2 cryptography (MS-NLMP §3.3.2, §3.4.5): response computation,
 * session keys, sign/seal key derivation and the MIC.
 */
import { createHash } from "node:crypto";
import { hmacMd5, md5 } from "./md5.ts";
import { rc4 } from "./rc4.ts";
import { NtlmProtocolError } from "./errors.ts";
import { concatBytes, utf16le } from "./wire.ts";
import {
  NTLMSSP_NEGOTIATE_128,
  NTLMSSP_NEGOTIATE_56,
  NTLMSSP_NEGOTIATE_KEY_EXCH,
} from "./messages.ts";

export { certificateHash, channelBindingsHash } from "./channel_bindings.ts";

function u8(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function md4(data: Uint8Array): Uint8Array {
  return u8(createHash("md4").update(data).digest());
}

export { hmacMd5, md5 };

/** NT hash: MD4(UTF-16LE(password)). */
export function ntHash(password: string): Uint8Array {
  return md4(utf16le(password));
}

/**
 * NTOWFv2 per account, remembered: it depends on the password, user and domain only, and a
 * poller past its descriptor budget authenticates a new connection for most polls with the
 * same few accounts (an MD4 and an HMAC-MD5 saved per handshake). The acceptor
 * (server.ts) uses it too, as Windows keeps the NT hash rather than hashing the password at
 * each logon. In memory only, as the password itself is; bounded, oldest forgotten first.
 */
const responseKeys = new Map<string, Uint8Array>();
const RESPONSE_KEYS_MAX = 256;

export function rememberedNtowfv2(password: string, user: string, domain: string): Uint8Array {
  const key = `${user}\0${domain}\0${password}`;
  let k = responseKeys.get(key);
  if (!k) {
    k = ntowfv2(password, user, domain);
    if (responseKeys.size >= RESPONSE_KEYS_MAX) {
      responseKeys.delete(responseKeys.keys().next().value!);
    }
    responseKeys.set(key, k);
  }
  return k;
}

/** NTOWFv2 = HMAC_MD5(MD4(UTF16LE(password)), UTF16LE(UPPER(user) ‖ domain)). */
export function ntowfv2(password: string, user: string, domain: string): Uint8Array {
  return ntowfv2FromHash(ntHash(password), user, domain);
}

export function ntowfv2FromHash(hash: Uint8Array, user: string, domain: string): Uint8Array {
  return hmacMd5(hash, utf16le(user.toUpperCase() + domain));
}

/** The NTLMv2 client blob ("temp"): header, timestamp, client challenge, AV pairs. */
export function ntlmv2Blob(
  timestamp: Uint8Array,
  clientChallenge: Uint8Array,
  targetInfo: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(28 + targetInfo.length + 4);
  out[0] = 1; // RespType
  out[1] = 1; // HiRespType
  out.set(timestamp, 8);
  out.set(clientChallenge, 16);
  out.set(targetInfo, 28);
  return out;
}

export interface Ntlmv2Response {
  ntChallengeResponse: Uint8Array;
  ntProofStr: Uint8Array;
  sessionBaseKey: Uint8Array;
}

/** NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge ‖ temp); response = NTProofStr ‖ temp. */
export function ntlmv2Response(
  responseKeyNT: Uint8Array,
  serverChallenge: Uint8Array,
  blob: Uint8Array,
): Ntlmv2Response {
  const ntProofStr = hmacMd5(responseKeyNT, serverChallenge, blob);
  return {
    ntChallengeResponse: concatBytes(ntProofStr, blob),
    ntProofStr,
    sessionBaseKey: sessionBaseKey(responseKeyNT, ntProofStr),
  };
}

/** SessionBaseKey = HMAC_MD5(NTOWFv2, NTProofStr); needs no server challenge. */
export function sessionBaseKey(responseKeyNT: Uint8Array, ntProofStr: Uint8Array): Uint8Array {
  return hmacMd5(responseKeyNT, ntProofStr);
}

/** LMv2 = HMAC_MD5(NTOWFv2, ServerChallenge ‖ ClientChallenge) ‖ ClientChallenge. */
export function lmv2Response(
  responseKeyLM: Uint8Array,
  serverChallenge: Uint8Array,
  clientChallenge: Uint8Array,
): Uint8Array {
  return concatBytes(hmacMd5(responseKeyLM, serverChallenge, clientChallenge), clientChallenge);
}

/** For NTLMv2, KXKEY is the SessionBaseKey (§3.4.5.1). */
export function kxkey(sessionBaseKey: Uint8Array): Uint8Array {
  return sessionBaseKey;
}

/** Client side of key exchange: EncryptedRandomSessionKey = RC4(KXKEY, ExportedSessionKey). */
export function encryptSessionKey(keyExchangeKey: Uint8Array, exportedKey: Uint8Array): Uint8Array {
  return rc4(keyExchangeKey, exportedKey);
}

/** Server side: ExportedSessionKey, decrypted when KEY_EXCH was negotiated. */
export function exportedSessionKey(
  flags: number,
  keyExchangeKey: Uint8Array,
  encryptedRandomSessionKey: Uint8Array,
): Uint8Array {
  if (!(flags & NTLMSSP_NEGOTIATE_KEY_EXCH)) return keyExchangeKey;
  if (encryptedRandomSessionKey.length !== 16) {
    throw new NtlmProtocolError("KEY_EXCH negotiated but no 16-byte EncryptedRandomSessionKey");
  }
  return rc4(keyExchangeKey, encryptedRandomSessionKey);
}

export type Direction = "client-to-server" | "server-to-client";

const enc = new TextEncoder();
const MAGIC = {
  sign: {
    "client-to-server": enc.encode("session key to client-to-server signing key magic constant\0"),
    "server-to-client": enc.encode("session key to server-to-client signing key magic constant\0"),
  },
  seal: {
    "client-to-server": enc.encode("session key to client-to-server sealing key magic constant\0"),
    "server-to-client": enc.encode("session key to server-to-client sealing key magic constant\0"),
  },
};

/** SIGNKEY (ESS) = MD5(ExportedSessionKey ‖ magic). */
export function signKey(exportedKey: Uint8Array, dir: Direction): Uint8Array {
  return md5(exportedKey, MAGIC.sign[dir]);
}

/** SEALKEY (ESS): the key is truncated to 16/7/5 bytes for 128/56/40-bit first (§3.4.5.3). */
export function sealKey(exportedKey: Uint8Array, flags: number, dir: Direction): Uint8Array {
  const len = flags & NTLMSSP_NEGOTIATE_128 ? 16 : flags & NTLMSSP_NEGOTIATE_56 ? 7 : 5;
  return md5(exportedKey.subarray(0, len), MAGIC.seal[dir]);
}

/** MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE(with MIC zeroed)). */
export function computeMic(
  exportedKey: Uint8Array,
  negotiate: Uint8Array,
  challenge: Uint8Array,
  authenticateZeroMic: Uint8Array,
): Uint8Array {
  return hmacMd5(exportedKey, negotiate, challenge, authenticateZeroMic);
}

/** FILETIME (100 ns since 1601) as 8 little-endian bytes. */
export function fileTime(date: Date = new Date()): Uint8Array {
  const ticks = (BigInt(date.getTime()) + 11644473600000n) * 10000n;
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, ticks, true);
  return out;
}
