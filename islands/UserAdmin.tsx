/** Users (admins only): create, change role, set a new password, delete. */
import { useSignal } from "@preact/signals";
import { api, errorText } from "./api.ts";
import type { UserRow } from "../lib/web/page_data.ts";

const ROLES = ["admin", "operator", "viewer"] as const;

export default function UserAdmin({ users, me }: { users: UserRow[]; me: number }) {
  const rows = useSignal(users);
  const error = useSignal<string | null>(null);
  const note = useSignal<string | null>(null);
  const act = async (fn: () => Promise<void>, done: string) => {
    error.value = null;
    note.value = null;
    try {
      await fn();
      note.value = done;
    } catch (err) {
      error.value = errorText(err);
    }
  };
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {note.value && <p class="ok" role="status">{note.value}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Password</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.value.map((u) => (
              <tr key={u.id}>
                <td>
                  {u.username}
                  {u.id === me && (
                    <>
                      {" "}(you · <a href="/account">change your password</a>)
                    </>
                  )}
                </td>
                <td>
                  <label class="sr-only" for={`role-${u.id}`}>Role of {u.username}</label>
                  <select
                    id={`role-${u.id}`}
                    value={u.role}
                    onChange={(e) => {
                      const role = e.currentTarget.value as UserRow["role"];
                      act(async () => {
                        await api("PUT", `/users/${u.id}`, { role });
                        rows.value = rows.value.map((x) => x.id === u.id ? { ...x, role } : x);
                      }, `${u.username} is now ${role}.`);
                    }}
                  >
                    {ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
                  </select>
                </td>
                <td>
                  {u.id !== me && (
                    <details class="reset">
                      <summary>Set password</summary>
                      <form
                        class="row-form"
                        aria-label={`Set the password of ${u.username}`}
                        onSubmit={(e) => {
                          e.preventDefault();
                          const form = e.currentTarget;
                          const password = new FormData(form).get("password");
                          act(async () => {
                            await api("PUT", `/users/${u.id}`, { password });
                            form.reset();
                          }, `${u.username} has a new password; their sessions have ended.`);
                        }}
                      >
                        <label>
                          <span class="sr-only">New password for {u.username}</span>
                          <input
                            name="password"
                            type="password"
                            minLength={8}
                            required
                            autocomplete="new-password"
                            placeholder="8+ characters"
                          />
                        </label>
                        <button type="submit" class="secondary">Set</button>
                      </form>
                    </details>
                  )}
                </td>
                <td>
                  {u.id !== me && (
                    <button
                      type="button"
                      class="danger"
                      onClick={() =>
                        confirm(`Delete user ${u.username}?`) && act(async () => {
                          await api("DELETE", `/users/${u.id}`);
                          rows.value = rows.value.filter((x) => x.id !== u.id);
                        }, `${u.username} deleted.`)}
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        class="card row-form"
        aria-label="New user"
        onSubmit={(e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const f = new FormData(form);
          act(async () => {
            const u = await api<UserRow>("POST", "/users", {
              username: f.get("username"),
              password: f.get("password"),
              role: f.get("role"),
            });
            rows.value = [...rows.value, u];
            form.reset();
          }, `User ${f.get("username")} created.`);
        }}
      >
        <label>
          Username <input name="username" required autocomplete="off" />
        </label>
        <label>
          Password (8+ characters)
          <input
            name="password"
            type="password"
            minLength={8}
            required
            autocomplete="new-password"
          />
        </label>
        <label>
          Role
          <select name="role">
            {ROLES.map((r) => <option key={r} value={r} selected={r === "viewer"}>{r}</option>)}
          </select>
        </label>
        <button type="submit">Create user</button>
      </form>
    </div>
  );
}
