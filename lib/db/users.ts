import type { Queryable } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";
import type { Role } from "../auth/tokens.ts";

export interface User {
  id: number;
  username: string;
  role: Role;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = "id, username, role, created_at, updated_at";

export const usersRepo = {
  async list(db: Queryable, list: ListParams): Promise<Page<User>> {
    return await listPage<User>(db, {
      from: "users",
      select: COLUMNS,
      sortable: { id: "id", username: "username", role: "role", created_at: "created_at" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<User | undefined> {
    return (await db.query<User>(
      `SELECT ${COLUMNS} FROM users WHERE id = $1`,
      [id],
    ))[0];
  },
  /**
   * Usernames are unique regardless of case (migration 0005), so login folds case too. A name
   * with a control character cannot exist (and PostgreSQL refuses NUL): no such user, whichever
   * form (API or login page) sent it.
   */
  async findForLogin(db: Queryable, username: string) {
    // deno-lint-ignore no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(username)) return undefined;
    return (await db.query<User & { password_hash: string }>(
      `SELECT ${COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)`,
      [username],
    ))[0];
  },
  async count(db: Queryable): Promise<number> {
    return (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM users"))[0].n;
  },
  async countAdmins(db: Queryable): Promise<number> {
    return (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM users WHERE role = 'admin'",
    ))[0].n;
  },
  async create(
    db: Queryable,
    u: { username: string; passwordHash: string; role: Role },
  ): Promise<User> {
    return (await db.query<User>(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
      [u.username, u.passwordHash, u.role],
    ))[0];
  },
  async update(
    db: Queryable,
    id: number,
    u: { role?: Role; passwordHash?: string },
  ): Promise<User | undefined> {
    return (await db.query<User>(
      `UPDATE users SET role = coalesce($2, role), password_hash = coalesce($3, password_hash),
         updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, u.role ?? null, u.passwordHash ?? null],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM users WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};
