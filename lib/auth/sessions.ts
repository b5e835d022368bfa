/**
 * Login, refresh and logout. A login starts a refresh-token family; each refresh rotates the
 * token; presenting an already-rotated token means it was stolen or replayed, so the whole
 * family is revoked and the user must log in again.
 */
import type { AppContext } from "../app_context.ts";
import { usersRepo } from "../db/users.ts";
import { refreshTokensRepo } from "../db/refresh_tokens.ts";
import { decoyPasswordHash, verifyPassword } from "./passwords.ts";
import { hashRefreshToken, newRefreshToken, type Role } from "./tokens.ts";
import type { Queryable } from "../db/driver.ts";

export interface Session {
  access_token: string;
  token_type: "Bearer";
  expires_at: string;
  refresh_token: string;
  refresh_expires_at: string;
  user: { id: number; username: string; role: Role };
}

export class LoginThrottledError extends Error {
  override name = "LoginThrottledError";
  constructor(readonly retryAfterMs: number) {
    super("too many failed logins; try again later");
  }
}

export class InvalidCredentialsError extends Error {
  override name = "InvalidCredentialsError";
  constructor() {
    super("invalid username or password");
  }
}

export class RefreshTokenError extends Error {
  override name = "RefreshTokenError";
  constructor(readonly reason: "unknown" | "expired" | "revoked" | "reused") {
    super(
      reason === "reused"
        ? "refresh token was already used; all sessions of this login were revoked"
        : `refresh token is ${reason === "unknown" ? "invalid" : reason}`,
    );
  }
}

export async function login(
  app: AppContext,
  client: string,
  username: string,
  password: string,
): Promise<Session> {
  const wait = app.loginThrottle.retryAfterMs(client, username);
  if (wait > 0) throw new LoginThrottledError(wait);
  const user = await usersRepo.findForLogin(app.db, username);
  const hash = user?.password_hash ?? await decoyPasswordHash(app.config.auth.bcrypt_cost);
  const valid = await verifyPassword(password, hash);
  if (!user || !valid) {
    app.loginThrottle.recordFailure(client, username);
    throw new InvalidCredentialsError();
  }
  app.loginThrottle.recordSuccess(client, username);
  return await startSession(app, app.db, user, crypto.randomUUID());
}

export async function refresh(app: AppContext, refreshToken: string): Promise<Session> {
  const tokenHash = await hashRefreshToken(refreshToken);
  const outcome = await app.db.transaction(async (tx) => {
    const row = await refreshTokensRepo.findForUpdate(tx, tokenHash);
    if (!row) return new RefreshTokenError("unknown");
    if (row.revoked_at) return new RefreshTokenError("revoked");
    if (row.rotated_at) {
      await refreshTokensRepo.revokeFamily(tx, row.family_id);
      return new RefreshTokenError("reused");
    }
    if (new Date(row.expires_at).getTime() <= Date.now()) return new RefreshTokenError("expired");
    const user = await usersRepo.get(tx, row.user_id);
    if (!user) return new RefreshTokenError("revoked");
    await refreshTokensRepo.markRotated(tx, row.id);
    return await startSession(app, tx, user, row.family_id);
  });
  // The family revocation must commit, so the error is thrown only after the transaction.
  if (outcome instanceof RefreshTokenError) throw outcome;
  return outcome;
}

export async function logout(app: AppContext, refreshToken: string): Promise<boolean> {
  const tokenHash = await hashRefreshToken(refreshToken);
  return await app.db.transaction(async (tx) => {
    const row = await refreshTokensRepo.findForUpdate(tx, tokenHash);
    if (!row) return false;
    await refreshTokensRepo.revokeFamily(tx, row.family_id);
    return true;
  });
}

export async function startSession(
  app: AppContext,
  db: Queryable,
  user: { id: number; username: string; role: Role },
  familyId: string,
): Promise<Session> {
  const access = await app.accessTokens.issue({
    userId: user.id,
    username: user.username,
    role: user.role,
  });
  const refreshToken = newRefreshToken();
  const refreshExpiresAt = new Date(Date.now() + app.config.auth.refresh_token_ttl_ms);
  await refreshTokensRepo.insert(db, {
    userId: user.id,
    familyId,
    tokenHash: await hashRefreshToken(refreshToken),
    expiresAt: refreshExpiresAt,
  });
  return {
    access_token: access.token,
    token_type: "Bearer",
    expires_at: access.expiresAt.toISOString(),
    refresh_token: refreshToken,
    refresh_expires_at: refreshExpiresAt.toISOString(),
    user: { id: user.id, username: user.username, role: user.role },
  };
}
