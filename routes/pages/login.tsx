/**
 * /login (form), /logout, and /session/refresh for islands. The login form posts here, not
 * to the API, so the tokens go straight into HttpOnly cookies and never reach a script.
 */
import type { Hono } from "hono";
import { getConnInfo } from "hono/deno";
import { getCookie } from "hono/cookie";
import type { AppEnv } from "../http/env.ts";
import type { View } from "./view.tsx";
import {
  InvalidCredentialsError,
  login,
  LoginThrottledError,
  logout,
} from "../../lib/auth/sessions.ts";
import {
  clearSessionCookies,
  csrfValid,
  forgetRefresh,
  refreshFromCookie,
  sameOrigin,
  setSessionCookies,
} from "../http/session.ts";
import { CSRF_HEADER, REFRESH_COOKIE } from "../../lib/web/cookies.ts";
import { audit } from "../../lib/audit.ts";
import { safeNextPath as safeNext } from "../../lib/web/next_path.ts";
import { formLimit } from "../../lib/web/form_limit.ts";

function LoginForm({ next, error, username }: { next: string; error?: string; username?: string }) {
  return (
    <section class="login card">
      <h1>NMSlite</h1>
      <p class="muted">Sign in to the dashboard.</p>
      {error && <p class="error" role="alert">{error}</p>}
      <form method="post" action="/login">
        <input type="hidden" name="next" value={next} />
        <label>
          Username
          <input name="username" autocomplete="username" required value={username ?? ""} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit">Log in</button>
      </form>
    </section>
  );
}

export function registerLoginPages(app: Hono<AppEnv>, view: View): void {
  app.get(
    "/login",
    (c) => view.bare(c, "Log in", <LoginForm next={safeNext(c.req.query("next"))} />),
  );

  app.post("/login", formLimit(), async (c) => {
    const form = await c.req.formData();
    const username = String(form.get("username") ?? "");
    const password = String(form.get("password") ?? "");
    const next = safeNext(String(form.get("next") ?? "/"));
    // Login CSRF: a foreign site must not sign the browser into an account of its choosing.
    if (!sameOrigin(c)) return c.text("cross-site login refused", 403);
    const ctx = c.get("app");
    let client = "unknown";
    try {
      client = getConnInfo(c).remote.address ?? "unknown";
    } catch { /* not on Deno.serve (in-process fetch) */ }
    try {
      const session = await login(ctx, client, username, password);
      await audit(
        ctx.db,
        { userId: session.user.id, username, requestId: c.get("requestId") },
        "login",
        "session",
        session.user.id,
      );
      setSessionCookies(c, session);
      return c.redirect(next, 303);
    } catch (err) {
      let message: string;
      if (err instanceof InvalidCredentialsError) message = "Invalid username or password.";
      else if (err instanceof LoginThrottledError) {
        message = `Too many failed logins; try again in ${
          Math.ceil(err.retryAfterMs / 1000)
        } seconds.`;
      } else throw err;
      return view.bare(
        c,
        "Log in",
        <LoginForm next={next} error={message} username={username} />,
        err instanceof LoginThrottledError ? 429 : 401,
      );
    }
  });

  app.post("/logout", formLimit(), async (c) => {
    const form = await c.req.formData();
    if (!csrfValid(c, String(form.get("csrf") ?? ""))) {
      return c.text("cross-site logout refused", 403);
    }
    const token = getCookie(c, REFRESH_COOKIE);
    if (token) {
      forgetRefresh(token);
      await logout(c.get("app"), token);
    }
    clearSessionCookies(c);
    return c.redirect("/login", 303);
  });

  app.post("/session/refresh", async (c) => {
    if (!csrfValid(c, c.req.header(CSRF_HEADER))) {
      return c.json({
        success: false,
        error: { code: "CSRF_FAILED", message: "cross-site request refused", details: {} },
      }, 403);
    }
    const session = await refreshFromCookie(c);
    if (!session) {
      return c.json({
        success: false,
        error: { code: "SESSION_ENDED", message: "please log in again", details: {} },
      }, 401);
    }
    return c.json({ success: true, data: { user: session.user, expires_at: session.expires_at } });
  });
}
