/**
 * Changing one's own password (POST /api/v1/auth/password). The server replaces this
 * browser's session cookies and ends every other session of the user.
 */
import { useSignal } from "@preact/signals";
import { api } from "./api.ts";
import { formErrorText } from "./field_errors.ts";

export default function PasswordChange({ username }: { username: string }) {
  const error = useSignal<string | null>(null);
  const done = useSignal(false);
  const busy = useSignal(false);
  return (
    <form
      class="card stack narrow"
      aria-label="Change password"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        error.value = null;
        done.value = false;
        const next = String(f.get("new_password") ?? "");
        if (next !== f.get("repeat")) {
          error.value = "The two new passwords are not the same.";
          return;
        }
        busy.value = true;
        try {
          await api("POST", "/auth/password", {
            current_password: f.get("current_password"),
            new_password: next,
          });
          form.reset();
          done.value = true;
        } catch (err) {
          error.value = formErrorText(form, err);
        } finally {
          busy.value = false;
        }
      }}
    >
      <h2>Change password</h2>
      {/* lets a password manager tie the new password to the account */}
      <input type="hidden" name="username" autocomplete="username" value={username} />
      <label>
        Current password
        <input
          name="current_password"
          type="password"
          required
          autocomplete="current-password"
        />
      </label>
      <label>
        New password (8 characters or more)
        <input
          name="new_password"
          type="password"
          required
          minLength={8}
          maxLength={1024}
          autocomplete="new-password"
        />
      </label>
      <label>
        Repeat the new password
        <input name="repeat" type="password" required autocomplete="new-password" />
      </label>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {done.value && (
        <p class="ok" role="status">
          Password changed. You stay signed in here; every other session of yours has ended.
        </p>
      )}
      <div class="row-form">
        <button type="submit" disabled={busy.value}>
          {busy.value ? "Changing…" : "Change password"}
        </button>
      </div>
    </form>
  );
}
