/**
 * A user changes their own password: the current one must be given (a wrong one counts toward
 * the login throttle like a failed login, so a stolen session cannot guess it), every refresh
 * token of the user is revoked and access tokens issued so far stop working; the caller gets a
 * fresh session, so only the other sessions end. Audited either way, never with the passwords.
 */
import type { AppContext } from "../app_context.ts";
import { usersRepo } from "../db/users.ts";
import { refreshTokensRepo } from "../db/refresh_tokens.ts";
import { type Actor, audit } from "../audit.ts";
import { hashPassword, verifyPassword } from "./passwords.ts";
import { LoginThrottledError, type Session, startSession } from "./sessions.ts";

export class WrongPasswordError extends Error {
  override name = "WrongPasswordError";
  constructor() {
    super("the current password is not correct");
  }
}

export class SamePasswordError extends Error {
  override name = "SamePasswordError";
  constructor() {
    super("the new password must differ from the current one");
  }
}

export async function changeOwnPassword(
  app: AppContext,
  actor: Actor & { userId: number; username: string },
  client: string,
  currentPassword: string,
  newPassword: string,
): Promise<Session> {
  const wait = app.loginThrottle.retryAfterMs(client, actor.username);
  if (wait > 0) throw new LoginThrottledError(wait);
  const user = await usersRepo.findForLogin(app.db, actor.username);
  if (
    !user || user.id !== actor.userId || !await verifyPassword(currentPassword, user.password_hash)
  ) {
    app.loginThrottle.recordFailure(client, actor.username);
    await audit(app.db, actor, "change_password_refused", "user", actor.userId, {
      reason: "wrong current password",
    });
    throw new WrongPasswordError();
  }
  if (currentPassword === newPassword) throw new SamePasswordError();
  app.loginThrottle.recordSuccess(client, actor.username);
  const passwordHash = await hashPassword(newPassword, app.config.auth.bcrypt_cost);
  await app.db.transaction(async (tx) => {
    await usersRepo.update(tx, user.id, { passwordHash });
    await refreshTokensRepo.revokeUser(tx, user.id);
    await audit(tx, actor, "change_password", "user", user.id);
  });
  // Revocation has a one-second grain (a token's iat): every token issued up to now is revoked,
  // and the new session is issued in the next second so that it is not.
  const now = Date.now();
  app.tokenRevocations.set(user.id, Math.floor(now / 1000) + 1);
  await new Promise((r) => setTimeout(r, 1000 - (now % 1000) + 5));
  return await startSession(app, app.db, user, crypto.randomUUID());
}
