/**
 * Typed NTLM errors. Messages never include passwords, hashes or key material,
 * because they end up in logs and API responses.
 */

/** Malformed, truncated or inconsistent NTLM message (or bad MIC / channel binding). */
export class NtlmProtocolError extends Error {
  override name = "NtlmProtocolError";
}

/** A sealed/signed message whose signature does not verify (tampering, desync). */
export class NtlmIntegrityError extends Error {
  override name = "NtlmIntegrityError";
}

/** The credentials were rejected (wrong password / unknown user). */
export class NtlmAuthenticationError extends Error {
  override name = "NtlmAuthenticationError";
}
