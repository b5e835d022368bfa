/**
 * Tokens, issued, verified and revoked here only. Access tokens are HS256 JWTs (jose) valid
 * for 15 minutes that must carry `exp`; each names the user's token version and, from a login,
 * the login's session id (its refresh-token family). A token is refused once the user's
 * version moved on (role or password changed, user deleted) or its login ended (logout, a
 * replayed refresh token). That state lives in the database, so every process serving the
 * API sees it, also after a restart; a process caches it for a few seconds and forgets it at
 * once for the changes it makes itself. While the database is unreachable the last state read
 * stands (nothing can be revoked then anyway), so requests that need no database still work.
 * Refresh tokens are 256-bit random strings, stored
 * only as SHA-256 hashes (lib/db/refresh_tokens.ts).
 */
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { encodeBase64Url } from "../crypto/base64.ts";
import { isDatabaseUnavailable, type Queryable } from "../db/driver.ts";
import { usersRepo } from "../db/users.ts";

import { type Role, ROLES } from "../db/roles.ts";

export { type Role, ROLES } from "../db/roles.ts";

export interface AccessClaims {
  userId: number;
  username: string;
  role: Role;
  /** epoch seconds */
  issuedAt: number;
  /** the user's token version when it was issued */
  tokenVersion: number;
  /** the login it belongs to (refresh-token family), or null */
  sessionId: string | null;
}

export class TokenError extends Error {
  override name = "TokenError";
  constructor(readonly reason: "expired" | "invalid", message: string) {
    super(message);
  }
}

const ISSUER = "nmslite";
const AUDIENCE = "nmslite-api";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Tokens already verified, kept until they expire: HMAC verification is ~16% of a GET. */
const VERIFIED_CACHE_SIZE = 10_000;
/** How long this process trusts a user's token state read from the database. */
export const REVOCATION_CACHE_MS = 5_000;

export interface TokenForget {
  user?: number;
  session?: string;
}

interface TokenState {
  version: number;
  session_live: boolean;
  until: number;
}

export class AccessTokens {
  private readonly verified = new Map<string, { claims: AccessClaims; expiresAtMs: number }>();
  private readonly states = new Map<string, TokenState>();

  /** Without `db` (tools that only mint tokens) nothing is checked against revocation. */
  constructor(
    private readonly secret: Uint8Array,
    readonly ttlMs: number,
    private readonly db?: Queryable,
    private readonly stateCacheMs = REVOCATION_CACHE_MS,
  ) {}

  async issue(
    claims: Omit<AccessClaims, "issuedAt" | "tokenVersion" | "sessionId"> & {
      tokenVersion?: number;
      sessionId?: string | null;
    },
  ): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Date.now() + this.ttlMs);
    const token = await new SignJWT({
      username: claims.username,
      role: claims.role,
      ver: claims.tokenVersion ?? 0,
      ...(claims.sessionId ? { sid: claims.sessionId } : {}),
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(String(claims.userId))
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti(crypto.randomUUID())
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
    // The issuer has just read the user's version (and started the login): that is the state.
    this.remember(`${claims.userId}:${claims.sessionId ?? ""}`, claims.tokenVersion ?? 0, true);
    return { token, expiresAt };
  }

  /** The claims of a well-signed, unexpired token that has not been revoked. */
  async verify(token: string): Promise<AccessClaims> {
    const claims = await this.verifySignature(token);
    if (this.db && !await this.live(claims)) {
      throw new TokenError("invalid", "token was revoked");
    }
    return claims;
  }

  /** Every access token of the user stops working (inside the change's transaction). */
  async revokeUser(tx: Queryable, userId: number): Promise<void> {
    await usersRepo.bumpTokenVersion(tx, userId);
  }

  /** After a change to the user committed: read their state afresh (here and, shared, elsewhere). */
  forgetUser(userId: number, shared = true): void {
    for (const key of this.states.keys()) {
      if (key.startsWith(`${userId}:`)) this.states.delete(key);
    }
    if (shared) this.share?.({ user: userId });
  }

  /** After a login ended (its refresh-token family revoked): read its state afresh. */
  forgetSession(sessionId: string, shared = true): void {
    for (const key of this.states.keys()) {
      if (key.endsWith(`:${sessionId}`)) this.states.delete(key);
    }
    if (shared) this.share?.({ session: sessionId });
  }

  private share?: (forget: TokenForget) => void;

  /**
   * Several central processes: what one forgets (a logout, a role or password change) is
   * passed to the others (lib/compose.ts: NOTIFY), which forget it too (`forget`), so their
   * caches never outlive a revocation by more than the message's way.
   */
  shareForgets(share: (forget: TokenForget) => void): void {
    this.share = share;
  }

  /** A forget told by another process. */
  forget(f: TokenForget): void {
    if (typeof f.user === "number") this.forgetUser(f.user, false);
    if (typeof f.session === "string") this.forgetSession(f.session, false);
  }

  private async live(claims: AccessClaims): Promise<boolean> {
    const key = `${claims.userId}:${claims.sessionId ?? ""}`;
    let state = this.states.get(key);
    if (!state || state.until <= Date.now()) {
      try {
        const row = await usersRepo.tokenState(this.db!, claims.userId, claims.sessionId);
        state = this.remember(key, row?.version ?? -1, row?.session_live ?? false);
      } catch (err) {
        if (!state || !isDatabaseUnavailable(err)) throw err;
      }
    }
    return state.version === claims.tokenVersion && state.session_live;
  }

  private remember(key: string, version: number, sessionLive: boolean): TokenState {
    const state = { version, session_live: sessionLive, until: Date.now() + this.stateCacheMs };
    if (this.states.size >= VERIFIED_CACHE_SIZE) this.states.clear();
    this.states.set(key, state);
    return state;
  }

  private async verifySignature(token: string): Promise<AccessClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      if (Date.now() < hit.expiresAtMs) return hit.claims;
      this.verified.delete(token);
      throw new TokenError("expired", "token has expired");
    }
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        algorithms: ["HS256"],
        issuer: ISSUER,
        audience: AUDIENCE,
        requiredClaims: ["exp", "iat", "sub"],
      });
      const userId = Number(payload.sub);
      const role = payload.role as Role;
      const sid = payload.sid;
      if (
        !Number.isInteger(userId) || !ROLES.includes(role) ||
        typeof payload.username !== "string" || !Number.isInteger(payload.ver) ||
        (sid !== undefined && (typeof sid !== "string" || !UUID.test(sid)))
      ) {
        throw new TokenError("invalid", "token claims are malformed");
      }
      const claims: AccessClaims = {
        userId,
        username: payload.username,
        role,
        issuedAt: payload.iat!,
        tokenVersion: payload.ver as number,
        sessionId: (sid as string | undefined) ?? null,
      };
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      this.verified.set(token, { claims, expiresAtMs: payload.exp! * 1000 });
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
