/**
 * NTLM session security on DCE/RPC PDUs (MS-RPCE 3.3.1.5.2, MS-NLMP 3.4.3-3.4.4 with extended
 * session security): the checksum covers the whole PDU up to the sec_trailer with the plaintext
 * stub; at packet privacy the stub and its pad are RC4-sealed first and the checksum is sealed
 * with the next 8 bytes of the same stream. One stream and one sequence number per direction,
 * never reset within a security context.
 */
import { createHmac } from "node:crypto";
import { Rc4 } from "../winrm/ntlm/rc4.ts";
import { sealKey, signKey } from "../winrm/ntlm/crypto.ts";
import { NTLMSSP_NEGOTIATE_KEY_EXCH } from "../winrm/ntlm/messages.ts";
import { WmiIntegrityError } from "./errors.ts";

export const AUTH_LEVEL_CONNECT = 2;
export const AUTH_LEVEL_PKT_INTEGRITY = 5;
export const AUTH_LEVEL_PKT_PRIVACY = 6;
export const SIGNATURE_LENGTH = 16;

interface Direction {
  signKey: Uint8Array;
  rc4: Rc4;
  seq: number;
}

export class RpcSecurity {
  #out: Direction;
  #in: Direction;
  #keyExch: boolean;

  constructor(
    keys: { exportedSessionKey: Uint8Array; flags: number },
    isServer: boolean,
    readonly level: number,
    readonly contextId: number,
  ) {
    const k = keys.exportedSessionKey;
    this.#keyExch = (keys.flags & NTLMSSP_NEGOTIATE_KEY_EXCH) !== 0;
    const c2s: Direction = {
      signKey: signKey(k, "client-to-server"),
      rc4: new Rc4(sealKey(k, keys.flags, "client-to-server")),
      seq: 0,
    };
    const s2c: Direction = {
      signKey: signKey(k, "server-to-client"),
      rc4: new Rc4(sealKey(k, keys.flags, "server-to-client")),
      seq: 0,
    };
    this.#out = isServer ? s2c : c2s;
    this.#in = isServer ? c2s : s2c;
  }

  get privacy(): boolean {
    return this.level >= AUTH_LEVEL_PKT_PRIVACY;
  }

  /**
   * `pdu` is complete with a zeroed 16-byte auth_value at its end and the stub+pad at
   * [stubStart, stubEnd): seals it in place (privacy) and writes the signature.
   */
  protect(pdu: Uint8Array, stubStart: number, stubEnd: number): void {
    const d = this.#out;
    const sigAt = pdu.length - SIGNATURE_LENGTH;
    const mac = this.#mac(d, pdu.subarray(0, sigAt));
    if (this.privacy) {
      const body = pdu.subarray(stubStart, stubEnd);
      d.rc4.updateInto(body, body);
    }
    this.#writeSignature(d, mac, pdu, sigAt);
    d.seq = (d.seq + 1) >>> 0;
  }

  /** Unseals in place (privacy) and verifies the signature; throws WmiIntegrityError. */
  open(pdu: Uint8Array, stubStart: number, stubEnd: number): void {
    const d = this.#in;
    const sigAt = pdu.length - SIGNATURE_LENGTH;
    if (sigAt < stubEnd) throw new WmiIntegrityError("PDU has no NTLM signature");
    if (this.privacy) {
      const body = pdu.subarray(stubStart, stubEnd);
      d.rc4.updateInto(body, body);
    }
    const mac = this.#mac(d, pdu.subarray(0, sigAt));
    const expected = new Uint8Array(SIGNATURE_LENGTH);
    this.#writeSignature(d, mac, expected, 0);
    d.seq = (d.seq + 1) >>> 0;
    let diff = 0;
    for (let i = 0; i < SIGNATURE_LENGTH; i++) diff |= expected[i] ^ pdu[sigAt + i];
    if (diff !== 0) throw new WmiIntegrityError("RPC PDU signature does not verify");
  }

  #mac(d: Direction, msg: Uint8Array): Uint8Array {
    const seq = new Uint8Array(4);
    new DataView(seq.buffer).setUint32(0, d.seq, true);
    return createHmac("md5", d.signKey).update(seq).update(msg).digest() as Uint8Array;
  }

  #writeSignature(d: Direction, mac: Uint8Array, out: Uint8Array, at: number): void {
    const v = new DataView(out.buffer, out.byteOffset + at, SIGNATURE_LENGTH);
    v.setUint32(0, 1, true);
    const checksum = out.subarray(at + 4, at + 12);
    checksum.set(mac.subarray(0, 8));
    if (this.#keyExch) d.rc4.updateInto(checksum, checksum);
    v.setUint32(12, d.seq, true);
  }
}
