/**
 * Typed Kerberos failures. Each names what an operator can do about it; none carries a
 * password or key. `code` is the KRB-ERROR error-code when the KDC or acceptor sent one.
 */

export type KerberosProblem =
  | "wrong_password"
  | "unknown_client"
  | "unknown_service"
  | "password_expired"
  | "locked"
  | "clock_skew"
  | "kdc_unreachable"
  | "etype"
  | "integrity"
  | "protocol"
  | "config"
  | "kdc_error";

export class KerberosError extends Error {
  override name = "KerberosError";
  constructor(
    readonly problem: KerberosProblem,
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** Hostile or malformed bytes: a DER, token or framing error. */
export class KerberosProtocolError extends KerberosError {
  override name = "KerberosProtocolError";
  constructor(message: string) {
    super("protocol", message);
  }
}

/** A checksum or a decryption did not verify. */
export class KerberosIntegrityError extends KerberosError {
  override name = "KerberosIntegrityError";
  constructor(message: string) {
    super("integrity", message);
  }
}

/** KRB-ERROR codes (RFC 4120 §7.5.9) that the client tells apart. */
export const KRB_ERR = {
  C_PRINCIPAL_UNKNOWN: 6,
  S_PRINCIPAL_UNKNOWN: 7,
  ETYPE_NOSUPP: 14,
  CLIENT_REVOKED: 18,
  KEY_EXPIRED: 23,
  PREAUTH_FAILED: 24,
  PREAUTH_REQUIRED: 25,
  AP_ERR_BAD_INTEGRITY: 31,
  AP_ERR_TKT_EXPIRED: 32,
  AP_ERR_SKEW: 37,
  AP_ERR_MODIFIED: 41,
  RESPONSE_TOO_BIG: 52,
} as const;
