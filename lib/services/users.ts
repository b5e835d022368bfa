/**
 * Users (admin only, checked at the edge): a change of role or password, or a deletion, ends
 * the user's sessions and access tokens; the last admin can be neither demoted nor deleted.
 */
import type { Queryable } from "../db/driver.ts";
import { type User, usersRepo } from "../db/users.ts";
import { refreshTokensRepo } from "../db/refresh_tokens.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { hashPassword } from "../auth/passwords.ts";
import type { Role } from "../auth/tokens.ts";
import { type Actor, audit } from "../audit.ts";
import { found, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";

/** Ends every access token of a user (lib/auth/tokens.ts). */
export interface AccessRevoker {
  /** inside the change's transaction */
  revokeUser(tx: Queryable, userId: number): Promise<void>;
  /** after it has committed: this process stops trusting what it cached */
  forgetUser(userId: number): void;
}

export class UsersService {
  constructor(
    private readonly deps: ServiceDeps & { bcryptCost: number; tokens: AccessRevoker },
  ) {}

  list(params: ListParams): Promise<Page<User>> {
    return usersRepo.list(this.deps.db, params);
  }

  get(id: number): Promise<User | undefined> {
    return usersRepo.get(this.deps.db, id);
  }

  async create(
    actor: Actor,
    body: { username: string; password: string; role: Role },
  ): Promise<User> {
    const passwordHash = await hashPassword(body.password, this.deps.bcryptCost);
    return await change(this.deps, async (tx) => {
      const row = await usersRepo.create(tx, {
        username: body.username,
        role: body.role,
        passwordHash,
      });
      await audit(tx, actor, "create", "user", row.id, { username: row.username, role: row.role });
      return row;
    });
  }

  async update(actor: Actor, id: number, body: { password?: string; role?: Role }) {
    const passwordHash = body.password
      ? await hashPassword(body.password, this.deps.bcryptCost)
      : undefined;
    const row = await change(this.deps, async (tx) => {
      const existing = found(await usersRepo.get(tx, id), "user", id);
      if (existing.role === "admin" && body.role && body.role !== "admin") {
        await refuseLastAdmin(tx, "demote");
      }
      const row = await usersRepo.update(tx, id, { role: body.role, passwordHash });
      await this.endSessions(tx, id);
      await audit(tx, actor, "update", "user", id, { fields: Object.keys(body), role: body.role });
      return row;
    });
    this.deps.tokens.forgetUser(id);
    return row;
  }

  async delete(actor: Actor, id: number): Promise<void> {
    await change(this.deps, async (tx) => {
      const existing = found(await usersRepo.get(tx, id), "user", id);
      if (existing.role === "admin") await refuseLastAdmin(tx, "delete");
      await this.endSessions(tx, id);
      await usersRepo.delete(tx, id);
      await audit(tx, actor, "delete", "user", id, { username: existing.username });
    });
    this.deps.tokens.forgetUser(id);
  }

  private async endSessions(tx: Queryable, id: number): Promise<void> {
    await refreshTokensRepo.revokeUser(tx, id);
    await this.deps.tokens.revokeUser(tx, id);
  }
}

async function refuseLastAdmin(db: Queryable, what: string): Promise<void> {
  if (await usersRepo.countAdmins(db) <= 1) {
    throw new ServiceError(400, "LAST_ADMIN", `cannot ${what} the last admin`);
  }
}
