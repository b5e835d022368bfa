/**
 * NTLM message encoding/decoding (MS-NLMP §2.2.1, §2.2.2.1 AV pairs).
 * Decoders validate every offset so hostile input yields NtlmProtocolError,
 * never a RangeError from a DataView.
 */
import { NtlmProtocolError } from "./errors.ts";
import {
  type AvPair,
  bytesToHex,
  concatBytes,
  decodeAvPairs,
  decodeString,
  encodeString,
} from "./wire.ts";

export { type AvPair, decodeAvPairs, encodeAvPairs, getAvPair } from "./wire.ts";
export { bytesToHex, concatBytes };

export const NTLMSSP_NEGOTIATE_UNICODE = 0x00000001;
export const NTLMSSP_NEGOTIATE_OEM = 0x00000002;
export const NTLMSSP_REQUEST_TARGET = 0x00000004;
export const NTLMSSP_NEGOTIATE_SIGN = 0x00000010;
export const NTLMSSP_NEGOTIATE_SEAL = 0x00000020;
export const NTLMSSP_NEGOTIATE_DATAGRAM = 0x00000040;
export const NTLMSSP_NEGOTIATE_LM_KEY = 0x00000080;
export const NTLMSSP_NEGOTIATE_NTLM = 0x00000200;
export const NTLMSSP_ANONYMOUS = 0x00000800;
export const NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED = 0x00001000;
export const NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED = 0x00002000;
export const NTLMSSP_NEGOTIATE_ALWAYS_SIGN = 0x00008000;
export const NTLMSSP_TARGET_TYPE_DOMAIN = 0x00010000;
export const NTLMSSP_TARGET_TYPE_SERVER = 0x00020000;
export const NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY = 0x00080000;
export const NTLMSSP_NEGOTIATE_IDENTIFY = 0x00100000;
export const NTLMSSP_REQUEST_NON_NT_SESSION_KEY = 0x00400000;
export const NTLMSSP_NEGOTIATE_TARGET_INFO = 0x00800000;
export const NTLMSSP_NEGOTIATE_VERSION = 0x02000000;
export const NTLMSSP_NEGOTIATE_128 = 0x20000000;
export const NTLMSSP_NEGOTIATE_KEY_EXCH = 0x40000000;
export const NTLMSSP_NEGOTIATE_56 = 0x80000000;

export const MSV_AV_EOL = 0;
export const MSV_AV_NB_COMPUTER_NAME = 1;
export const MSV_AV_NB_DOMAIN_NAME = 2;
export const MSV_AV_DNS_COMPUTER_NAME = 3;
export const MSV_AV_DNS_DOMAIN_NAME = 4;
export const MSV_AV_DNS_TREE_NAME = 5;
export const MSV_AV_FLAGS = 6;
export const MSV_AV_TIMESTAMP = 7;
export const MSV_AV_SINGLE_HOST = 8;
export const MSV_AV_TARGET_NAME = 9;
export const MSV_AV_CHANNEL_BINDINGS = 10;

/** MsvAvFlags bit: the AUTHENTICATE message carries a MIC. */
export const MSV_AV_FLAG_MIC_PROVIDED = 0x00000002;

/** Windows 10 / NTLM revision 15: what Windows and ntlm_auth send. */
export const DEFAULT_VERSION = new Uint8Array([10, 0, 0x61, 0x4a, 0, 0, 0, 15]);

const SIGNATURE = new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0]); // "NTLMSSP\0"

export interface NegotiateMessage {
  flags: number;
  domain: string;
  workstation: string;
  version?: Uint8Array;
}

export interface ChallengeMessage {
  flags: number;
  targetName: string;
  serverChallenge: Uint8Array;
  /** raw TargetInfo bytes exactly as sent (the NTLMv2 blob must echo them) */
  targetInfo: Uint8Array;
  version?: Uint8Array;
}

export interface AuthenticateMessage {
  flags: number;
  lmChallengeResponse: Uint8Array;
  ntChallengeResponse: Uint8Array;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Uint8Array;
  version?: Uint8Array;
  /** 16-byte MIC when the header leaves room for it (payload starts at >= 88) */
  mic?: Uint8Array;
}

/** Offset of the MIC inside an AUTHENTICATE message. */
export const AUTHENTICATE_MIC_OFFSET = 72;

function header(buf: Uint8Array, type: number): DataView {
  if (buf.length < 12) throw new NtlmProtocolError("NTLM message truncated");
  for (let i = 0; i < 8; i++) {
    if (buf[i] !== SIGNATURE[i]) throw new NtlmProtocolError("not an NTLMSSP message");
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const got = dv.getUint32(8, true);
  if (got !== type) throw new NtlmProtocolError(`expected NTLM message type ${type}, got ${got}`);
  return dv;
}

function need(buf: Uint8Array, len: number): void {
  if (buf.length < len) throw new NtlmProtocolError("NTLM message truncated");
}

/** Reads a (len, maxlen, offset) field descriptor and returns the referenced bytes. */
function field(buf: Uint8Array, dv: DataView, at: number, minOffsets: number[]): Uint8Array {
  const len = dv.getUint16(at, true);
  const off = dv.getUint32(at + 4, true);
  if (len === 0) return new Uint8Array(0);
  if (off + len > buf.length) throw new NtlmProtocolError("NTLM field points outside message");
  minOffsets.push(off);
  return buf.slice(off, off + len);
}

/** Lays out payload fields after a fixed header; returns the whole message. */
function build(fixed: Uint8Array, fields: Array<[number, Uint8Array]>): Uint8Array {
  const total = fixed.length + fields.reduce((n, [, b]) => n + b.length, 0);
  const out = new Uint8Array(total);
  out.set(fixed);
  const dv = new DataView(out.buffer);
  let off = fixed.length;
  for (const [at, bytes] of fields) {
    dv.setUint16(at, bytes.length, true);
    dv.setUint16(at + 2, bytes.length, true);
    dv.setUint32(at + 4, off, true);
    out.set(bytes, off);
    off += bytes.length;
  }
  return out;
}

function fixedHeader(size: number, type: number): { fixed: Uint8Array; dv: DataView } {
  const fixed = new Uint8Array(size);
  fixed.set(SIGNATURE);
  const dv = new DataView(fixed.buffer);
  dv.setUint32(8, type, true);
  return { fixed, dv };
}

export function encodeNegotiate(msg: NegotiateMessage): Uint8Array {
  const { fixed, dv } = fixedHeader(40, 1);
  dv.setUint32(12, msg.flags >>> 0, true);
  fixed.set(msg.version ?? DEFAULT_VERSION, 32);
  // Type 1 strings are always OEM (§2.2.1.1).
  return build(fixed, [
    [16, encodeString(msg.domain, false)],
    [24, encodeString(msg.workstation, false)],
  ]);
}

export function decodeNegotiate(buf: Uint8Array): NegotiateMessage {
  const dv = header(buf, 1);
  need(buf, 16);
  const flags = dv.getUint32(12, true);
  // Old clients send the 16-byte form with no domain/workstation fields.
  if (buf.length < 32) return { flags, domain: "", workstation: "" };
  const offs: number[] = [];
  const domain = decodeString(field(buf, dv, 16, offs), false);
  const workstation = decodeString(field(buf, dv, 24, offs), false);
  const version = buf.length >= 40 && (flags & NTLMSSP_NEGOTIATE_VERSION)
    ? buf.slice(32, 40)
    : undefined;
  return { flags, domain, workstation, version };
}

export function encodeChallenge(msg: ChallengeMessage): Uint8Array {
  if (msg.serverChallenge.length !== 8) {
    throw new NtlmProtocolError("server challenge must be 8 bytes");
  }
  const { fixed, dv } = fixedHeader(56, 2);
  dv.setUint32(20, msg.flags >>> 0, true);
  fixed.set(msg.serverChallenge, 24);
  fixed.set(msg.version ?? DEFAULT_VERSION, 48);
  const unicode = (msg.flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
  return build(fixed, [[12, encodeString(msg.targetName, unicode)], [40, msg.targetInfo]]);
}

export function decodeChallenge(buf: Uint8Array): ChallengeMessage {
  const dv = header(buf, 2);
  need(buf, 32);
  const flags = dv.getUint32(20, true);
  const offs: number[] = [];
  const targetName = decodeString(
    field(buf, dv, 12, offs),
    (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0,
  );
  const serverChallenge = buf.slice(24, 32);
  let targetInfo: Uint8Array = new Uint8Array(0);
  if (buf.length >= 48) targetInfo = field(buf, dv, 40, offs);
  // Validate the AV pair list now so later consumers cannot trip on it.
  decodeAvPairs(targetInfo);
  const version = buf.length >= 56 && (flags & NTLMSSP_NEGOTIATE_VERSION) && minOf(offs) >= 56
    ? buf.slice(48, 56)
    : undefined;
  return { flags, targetName, serverChallenge, targetInfo, version };
}

function minOf(xs: number[]): number {
  return xs.length ? Math.min(...xs) : Infinity;
}

/** Encodes type 3; when `mic` is given (or `withMic`), reserves/sets the 16 MIC bytes at offset 72. */
export function encodeAuthenticate(msg: AuthenticateMessage & { withMic?: boolean }): Uint8Array {
  const withMic = msg.withMic || msg.mic !== undefined;
  const { fixed, dv } = fixedHeader(withMic ? 88 : 72, 3);
  dv.setUint32(60, msg.flags >>> 0, true);
  fixed.set(msg.version ?? DEFAULT_VERSION, 64);
  if (msg.mic) fixed.set(msg.mic, AUTHENTICATE_MIC_OFFSET);
  const unicode = (msg.flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
  // Same payload order as Windows/ntlm_auth: domain, user, workstation, LM, NT, key.
  return build(fixed, [
    [28, encodeString(msg.domain, unicode)],
    [36, encodeString(msg.user, unicode)],
    [44, encodeString(msg.workstation, unicode)],
    [12, msg.lmChallengeResponse],
    [20, msg.ntChallengeResponse],
    [52, msg.encryptedRandomSessionKey],
  ]);
}

export function decodeAuthenticate(buf: Uint8Array): AuthenticateMessage {
  const dv = header(buf, 3);
  need(buf, 64);
  const flags = dv.getUint32(60, true);
  const unicode = (flags & NTLMSSP_NEGOTIATE_UNICODE) !== 0;
  const offs: number[] = [];
  const lmChallengeResponse = field(buf, dv, 12, offs);
  const ntChallengeResponse = field(buf, dv, 20, offs);
  const domain = decodeString(field(buf, dv, 28, offs), unicode);
  const user = decodeString(field(buf, dv, 36, offs), unicode);
  const workstation = decodeString(field(buf, dv, 44, offs), unicode);
  const encryptedRandomSessionKey = field(buf, dv, 52, offs);
  const payloadStart = Math.min(minOf(offs), buf.length);
  const version = payloadStart >= 72 ? buf.slice(64, 72) : undefined;
  const mic = payloadStart >= 88 ? buf.slice(72, 88) : undefined;
  return {
    flags,
    lmChallengeResponse,
    ntChallengeResponse,
    domain,
    user,
    workstation,
    encryptedRandomSessionKey,
    version,
    mic,
  };
}

/** Parses TargetInfo into pairs (EOL excluded). */
export function targetInfoPairs(targetInfo: Uint8Array): AvPair[] {
  return decodeAvPairs(targetInfo);
}
