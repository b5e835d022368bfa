/**
 * Access tokens are HS256 JWTs (jose) valid for 15 minutes; refresh tokens are 256-bit random
 * strings, stored only as SHA-256 hashes (lib/db/refresh_tokens.ts).
 */
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { encodeBase64Url } from "../crypto/base64.ts";

export type Role = "admin" | "operator" | "viewer";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer"];

export interface AccessClaims {
  userId: number;
  username: string;
  role: Role;
  /** epoch seconds */
  issuedAt: number;
}

export class TokenError extends Error {
  override name = "TokenError";
  constructor(readonly reason: "expired" | "invalid", message: string) {
    super(message);
  }
}

const ISSUER = "nmslite";
const AUDIENCE = "nmslite-api";

/** Tokens already verified, kept until they expire: HMAC verification is ~16% of a GET. */
const VERIFIED_CACHE_SIZE = 10_000;

export class AccessTokens {
  private readonly verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();

  constructor(private readonly secret: Uint8Array, readonly ttlMs: number) {}

  async issue(claims: Omit<AccessClaims, "issuedAt">): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Date.now() + this.ttlMs);
    const token = await new SignJWT({ username: claims.username, role: claims.role })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(String(claims.userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
    return { token, expiresAt };
  }

  /** Revocation is the caller's check (it changes while a token lives), so it is not cached. */
  async verify(token: string): Promise<AccessClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (Date.now() < hit.expiresAtMs) return hit.claims;
      this.verified.delete(token);
      throw new TokenError("expired", "token has expired");
    }
    return await this.verifySignature(token);
  }

  private async verifySignature(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
      });
      const userId = Number(payload.sub);
      const role = payload.role as Role;
      if (
        !Number.isInteger(userId) || !ROLES.includes(role) || typeof payload.username !== "string"
      ) {
        throw new TokenError("invalid", "token claims are malformed");
      }
      const claims = { userId, username: payload.username, role, issuedAt: payload.iat ?? 0 };
      if (payload.exp !== undefined) {
        if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
        this.verified.set(token, { claims, expiresAtMs: payload.exp * 1000 });
      }
      return claims;
    } catch (err) {
      if (err instanceof TokenError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new TokenError("expired", "token has expired");
      }
      throw new TokenError("invalid", "token is invalid");
    }
  }
}

export function newRefreshToken(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function hashRefreshToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return encodeBase64Url(new Uint8Array(digest));
}
