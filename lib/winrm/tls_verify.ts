/**
 * Certificate verification per credential profile. node:tls connects with
 * rejectUnauthorized:false and this module decides, before any byte is sent, whether the
 * peer is acceptable, so the error can name the problem (self-signed, hostname mismatch,
 * expired...) instead of a bare OpenSSL code.
 */
import type tls from "node:tls";
import { Buffer } from "node:buffer";
import { createHash, X509Certificate } from "node:crypto";
import { ConfigError, TlsError } from "./errors.ts";

export interface TlsOptions {
  /**
   * system: the runtime's CA store; pinned: only what caPem and fingerprints name. A pinned
   * certificate is either a CA (the server's chain must lead to it and name the host) or the
   * server's own leaf, self-signed or issued by any CA (trusted as it is, whatever names it
   * carries: pollers connect by IP).
   */
  verify: "system" | "pinned" | "insecure";
  caPem?: string;
  /** SHA-256 fingerprints of pinned server leaves: hex, colons and case optional */
  fingerprints?: string[];
  /** name to check the certificate against (default: the host, when it is a name) */
  servername?: string;
}

/**
 * Checks pinned material before any connection: a PEM that holds no certificate (a key, a
 * DER file, an empty or truncated file) or a fingerprint that is not 32 bytes of hex would
 * otherwise surface later as an unrelated verification failure. Returns the fingerprints
 * normalised to lower-case hex without separators.
 */
export function checkPinned(opts: TlsOptions): string[] {
  const fingerprints = (opts.fingerprints ?? []).map(normaliseFingerprint);
  if (opts.verify !== "pinned") return fingerprints;
  if (opts.caPem !== undefined) {
    const pems = splitPem(opts.caPem);
    if (!pems.length) {
      throw new ConfigError(
        "the pinned CA or certificate is not PEM: expected -----BEGIN CERTIFICATE----- blocks",
      );
    }
    for (const [i, pem] of pems.entries()) {
      try {
        new X509Certificate(pem);
      } catch {
        throw new ConfigError(
          `the pinned CA or certificate PEM holds an unreadable certificate (block ${i + 1})`,
        );
      }
    }
  } else if (!fingerprints.length) {
    throw new ConfigError(
      "TLS verification 'pinned' needs a CA or certificate PEM, or a SHA-256 fingerprint",
    );
  }
  return fingerprints;
}

function normaliseFingerprint(text: string): string {
  const hex = text.trim().replace(/^sha-?256[:=\s]*/i, "").replace(/[:\s-]/g, "").toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ConfigError(
      "a pinned certificate fingerprint must be a SHA-256 digest: 64 hex digits (colons allowed)",
    );
  }
  return hex;
}

const SELF_SIGNED = new Set(["DEPTH_ZERO_SELF_SIGNED_CERT", "SELF_SIGNED_CERT_IN_CHAIN"]);
const UNTRUSTED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
]);

/** Returns a TlsError when the peer must be rejected, or null when it is acceptable. */
export function verifyPeer(
  socket: tls.TLSSocket,
  cert: tls.PeerCertificate,
  opts: TlsOptions,
  endpoint: string,
): TlsError | null {
  if (opts.verify === "insecure") return null;
  const code = String(socket.authorizationError ?? "");
  if (!cert || !cert.raw) {
    return new TlsError("handshake", `${endpoint}: the server sent no certificate`, code);
  }
  // A leaf pinned byte for byte (or by fingerprint) is trusted as it is: whoever issued it
  // (OpenSSL cannot build a chain from a lone non-CA certificate) and whatever names it
  // carries (pollers usually connect by IP; WinRM certs carry host names). Its validity
  // dates still count.
  const leafPinned = opts.verify === "pinned" && pinnedLeaf(cert, opts);
  if (opts.verify === "pinned" && !opts.caPem && !leafPinned) {
    // Fingerprints only: the system store must not vouch for another certificate.
    return new TlsError(
      "untrusted-issuer",
      `${endpoint}: the server certificate is not the pinned one (its SHA-256 fingerprint is ` +
        `${fingerprintOf(cert)})`,
      code,
    );
  }
  if (socket.authorized) return null;
  const dates = validity(cert, code, endpoint);
  if (dates || leafPinned) return dates;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    const names = cert.subjectaltname || `CN=${cert.subject?.CN ?? "?"}`;
    return new TlsError(
      "hostname-mismatch",
      `${endpoint}: the server certificate does not match the host name (${names})`,
      code,
    );
  }
  const selfSigned = SELF_SIGNED.has(code) || sameName(cert.subject, cert.issuer);
  if (selfSigned) {
    return new TlsError(
      "self-signed",
      `${endpoint}: the server certificate is self-signed and not trusted` +
        (opts.verify === "system"
          ? " (pin it by its PEM or SHA-256 fingerprint, or disable verification in the profile)"
          : ` (it is not the pinned certificate; its SHA-256 fingerprint is ${
            fingerprintOf(cert)
          })`),
      code,
    );
  }
  if (UNTRUSTED.has(code)) {
    return new TlsError(
      "untrusted-issuer",
      `${endpoint}: the server certificate is issued by an untrusted CA (${
        cert.issuer?.CN ?? "unknown issuer"
      })` +
        (opts.verify === "pinned"
          ? `: it is neither the pinned certificate nor issued by a pinned CA (its SHA-256 ` +
            `fingerprint is ${fingerprintOf(cert)})`
          : ""),
      code,
    );
  }
  return new TlsError("other", `${endpoint}: certificate verification failed (${code})`, code);
}

/** An expired or not-yet-valid certificate, or null. */
function validity(cert: tls.PeerCertificate, code: string, endpoint: string): TlsError | null {
  const now = Date.now();
  const from = Date.parse(cert.valid_from);
  const to = Date.parse(cert.valid_to);
  if (code === "CERT_HAS_EXPIRED" || (Number.isFinite(to) && to < now)) {
    return new TlsError(
      "expired",
      `${endpoint}: the server certificate expired on ${new Date(to).toISOString()}`,
      code,
    );
  }
  if (code === "CERT_NOT_YET_VALID" || (Number.isFinite(from) && from > now)) {
    return new TlsError(
      "not-yet-valid",
      `${endpoint}: the server certificate is not valid before ${new Date(from).toISOString()}`,
      code,
    );
  }
  return null;
}

/** Maps an error during the TLS handshake (before secureConnect). */
export function tlsErrorFor(err: unknown, endpoint: string): TlsError {
  const e = err as { code?: string; message?: string };
  return new TlsError(
    "handshake",
    `${endpoint}: TLS handshake failed: ${e?.message ?? String(err)}`,
    e?.code,
  );
}

function sameName(a: unknown, b: unknown): boolean {
  return !!a && !!b && JSON.stringify(a) === JSON.stringify(b);
}

function fingerprintOf(cert: tls.PeerCertificate): string {
  return createHash("sha256").update(cert.raw).digest("hex").replace(/(..)(?!$)/g, "$1:")
    .toUpperCase();
}

function pinnedLeaf(cert: tls.PeerCertificate, opts: TlsOptions): boolean {
  const peer = Buffer.from(cert.raw);
  if (opts.fingerprints?.length) {
    const digest = createHash("sha256").update(peer).digest("hex");
    if (opts.fingerprints.some((f) => normaliseFingerprint(f) === digest)) return true;
  }
  if (!opts.caPem) return false;
  for (const pem of splitPem(opts.caPem)) {
    try {
      if (Buffer.from(new X509Certificate(pem).raw).equals(peer)) return true;
    } catch { /* not a certificate */ }
  }
  return false;
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
