/** /users : user administration, for admins only (the API enforces the same). */
import type { Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { EmptyState } from "../../components/Layout.tsx";
import { usersRepo } from "../../lib/db/users.ts";

export const usersPage: Page = {
  path: "/users",
  async get(c, view) {
    const user = c.get("user");
    if (user.role !== "admin") {
      return view.page(
        c,
        "Users",
        <EmptyState title="Admins only">
          Only an admin can manage users. Ask one to change your role if you need to.
        </EmptyState>,
        403,
      );
    }
    const page = await usersRepo.list(c.get("app").db, {
      limit: 1000,
      offset: 0,
      sort: "username",
    });
    const users = page.items.map(({ id, username, role }) => ({ id, username, role }));
    return view.page(
      c,
      "Users",
      <>
        <h1>Users</h1>
        <p class="muted">
          Admins do everything; operators change everything but users; viewers only read.
        </p>
        <Island of={islands.UserAdmin} props={{ users, me: user.userId }} />
      </>,
    );
  },
};
