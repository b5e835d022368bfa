import type { Queryable } from "./driver.ts";

export interface RefreshTokenRow {
  id: number;
  user_id: number;
  family_id: string;
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

export const refreshTokensRepo = {
  async insert(
    db: Queryable,
    t: { userId: number; familyId: string; tokenHash: string; expiresAt: Date },
  ): Promise<void> {
    await db.query(
      `INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4)`,
      [t.userId, t.familyId, t.tokenHash, t.expiresAt],
    );
  },
  /** Locks the row so that two concurrent refreshes with one token cannot both rotate it. */
  async findForUpdate(db: Queryable, tokenHash: string): Promise<RefreshTokenRow | undefined> {
    return (await db.query<RefreshTokenRow>(
      `SELECT id, user_id, family_id, expires_at, rotated_at, revoked_at
       FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE`,
      [tokenHash],
    ))[0];
  },
  async markRotated(db: Queryable, id: number): Promise<void> {
    await db.query("UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", [id]);
  },
  async revokeFamily(db: Queryable, familyId: string): Promise<void> {
    await db.query(
      "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
      [familyId],
    );
  },
  async revokeUser(db: Queryable, userId: number): Promise<void> {
    await db.query(
      "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
      [userId],
    );
  },
  async deleteExpired(db: Queryable): Promise<number> {
    return (await db.query(
      "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day' RETURNING id",
    )).length;
  },
};
