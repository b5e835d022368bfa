/**
 * Certificate verification per credential profile. node:tls connects with
 * rejectUnauthorized:false and this module decides, before any byte is sent, whether the
 * peer is acceptable, so the error can name the problem (self-signed, hostname mismatch,
 * expired...) instead of a bare OpenSSL code.
 */
import type tls from "node:tls";
import { Buffer } from "node:buffer";
import { X509Certificate } from "node:crypto";
import { TlsError } from "./errors.ts";

export interface TlsOptions {
  /** system: the runtime's CA store; pinned: only caPem (a CA or the server's own cert) */
  verify: "system" | "pinned" | "insecure";
  caPem?: string;
  /** name to check the certificate against (default: the host, when it is a name) */
  servername?: string;
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
  if (socket.authorized) return null;
  const code = String(socket.authorizationError ?? "");
  if (!cert || !cert.raw) {
    return new TlsError("handshake", `${endpoint}: the server sent no certificate`, code);
  }
  // A certificate pinned byte for byte is trusted even when its names do not cover the
  // address we poll by (pollers usually connect by IP; WinRM certs carry host names).
  if (
    opts.verify === "pinned" && code === "ERR_TLS_CERT_ALTNAME_INVALID" && pinnedLeaf(cert, opts)
  ) {
    return null;
  }
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
          ? " (pin it with a CA/certificate PEM, or disable verification in the profile)"
          : " (it is not the pinned certificate)"),
      code,
    );
  }
  if (UNTRUSTED.has(code)) {
    return new TlsError(
      "untrusted-issuer",
      `${endpoint}: the server certificate is issued by an untrusted CA (${
        cert.issuer?.CN ?? "unknown issuer"
      })`,
      code,
    );
  }
  return new TlsError("other", `${endpoint}: certificate verification failed (${code})`, code);
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

function pinnedLeaf(cert: tls.PeerCertificate, opts: TlsOptions): boolean {
  if (!opts.caPem) return false;
  const peer = Buffer.from(cert.raw);
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
