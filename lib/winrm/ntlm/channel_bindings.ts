/**
 * TLS channel binding (RFC 5929 tls-server-end-point) as NTLM carries it in
 * MsvAvChannelBindings: MD5 of a serialized gss_channel_bindings_struct.
 */
import { createHash } from "node:crypto";
import { md5 } from "./md5.ts";
import { NtlmProtocolError } from "./errors.ts";

// Signature algorithm OIDs (DER content hex) -> hash to use per RFC 5929 §4.1.
const SIG_HASH: Record<string, string> = {
  "2a864886f70d010104": "sha256", // md5WithRSA -> SHA-256
  "2a864886f70d010105": "sha256", // sha1WithRSA -> SHA-256
  "2a864886f70d01010b": "sha256",
  "2a864886f70d01010c": "sha384",
  "2a864886f70d01010d": "sha512",
  "2a864886f70d01010e": "sha224",
  "2a8648ce3d0401": "sha256", // ecdsa-with-SHA1 -> SHA-256
  "2a8648ce3d040301": "sha224",
  "2a8648ce3d040302": "sha256",
  "2a8648ce3d040303": "sha384",
  "2a8648ce3d040304": "sha512",
  "2a8648ce380403": "sha256", // dsa-with-sha1 -> SHA-256
  "608648016503040302": "sha256", // dsa-with-sha256
};
// Hash OIDs that may appear in RSASSA-PSS parameters.
const PSS_HASH: Record<string, string> = {
  "608648016503040201": "sha256",
  "608648016503040202": "sha384",
  "608648016503040203": "sha512",
  "608648016503040204": "sha224",
};
const RSASSA_PSS = "2a864886f70d01010a";

interface Tlv {
  tag: number;
  start: number; // content start
  end: number; // content end
}

function readTlv(b: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new NtlmProtocolError("certificate DER truncated");
  const tag = b[at];
  let len = b[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) {
      throw new NtlmProtocolError("bad certificate DER length");
    }
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i];
    p += n;
  }
  if (p + len > limit) throw new NtlmProtocolError("certificate DER truncated");
  return { tag, start: p, end: p + len };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Hash name for tls-server-end-point, from the certificate's signatureAlgorithm. */
export function certificateHashAlgorithm(certDer: Uint8Array): string {
  const cert = readTlv(certDer, 0, certDer.length);
  if (cert.tag !== 0x30) throw new NtlmProtocolError("certificate is not a DER SEQUENCE");
  const tbs = readTlv(certDer, cert.start, cert.end);
  const algId = readTlv(certDer, tbs.end, cert.end);
  const oid = readTlv(certDer, algId.start, algId.end);
  if (algId.tag !== 0x30 || oid.tag !== 0x06) {
    throw new NtlmProtocolError("certificate signatureAlgorithm malformed");
  }
  const oidHex = hex(certDer.subarray(oid.start, oid.end));
  if (oidHex === RSASSA_PSS) {
    // The hash OID sits in the parameters; absent means SHA-1, which maps to SHA-256.
    const params = hex(certDer.subarray(oid.end, algId.end));
    for (const [h, name] of Object.entries(PSS_HASH)) if (params.includes(h)) return name;
    return "sha256";
  }
  // Unknown algorithms (e.g. Ed25519) have no defined hash; SHA-256 is what clients use.
  return SIG_HASH[oidHex] ?? "sha256";
}

/** The certificate hash for tls-server-end-point. */
export function certificateHash(certDer: Uint8Array): Uint8Array {
  const h = createHash(certificateHashAlgorithm(certDer)).update(certDer).digest();
  return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
}

/** MD5(gss_channel_bindings_struct) with zero addresses and "tls-server-end-point:" ‖ hash. */
export function channelBindingsHash(certDer: Uint8Array): Uint8Array {
  const prefix = new TextEncoder().encode("tls-server-end-point:");
  const certHash = certificateHash(certDer);
  const appData = new Uint8Array(prefix.length + certHash.length);
  appData.set(prefix);
  appData.set(certHash, prefix.length);
  // initiator addrtype+len, acceptor addrtype+len (all zero), then application data len + bytes.
  const struct = new Uint8Array(20 + appData.length);
  new DataView(struct.buffer).setUint32(16, appData.length, true);
  struct.set(appData, 20);
  return md5(struct);
}
