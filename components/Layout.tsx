/**
 * The page frame: skip link, navigation by role, the signed-in user (a link to their account
 * page, where the password is changed) and a logout button.
 */
import type { ComponentChildren } from "preact";
import type { AccessClaims } from "../lib/auth/tokens.ts";

const NAV = [
  { href: "/", label: "Overview" },
  { href: "/devices", label: "Devices" },
  { href: "/discovery", label: "Discovery" },
  { href: "/credentials", label: "Credentials" },
  { href: "/monitors", label: "Monitors" },
  { href: "/users", label: "Users", admin: true },
  { href: "/pollers", label: "Pollers", admin: true },
  { href: "/problems", label: "Problems" },
  { href: "/alert-rules", label: "Alert rules" },
  { href: "/maintenance", label: "Maintenance" },
  { href: "/notifications", label: "Notifications", admin: true },
];

export interface LayoutProps {
  user: AccessClaims;
  path: string;
  csrf: string;
  children: ComponentChildren;
}

export function Layout({ user, path, csrf, children }: LayoutProps) {
  const current = (href: string) =>
    href === "/" ? path === "/" : path === href || path.startsWith(`${href}/`);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <a class="brand" href="/">NMSlite</a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => !n.admin || user.role === "admin").map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={current(n.href) ? "page" : undefined}>{n.label}</a>
              </li>
            ))}
          </ul>
        </nav>
        <form method="post" action="/logout" class="logout">
          <a
            class="who"
            href="/account"
            title="Your account: change password"
            aria-current={path === "/account" ? "page" : undefined}
          >
            {user.username} <span class="role">({user.role})</span>
          </a>
          <input type="hidden" name="csrf" value={csrf} />
          <button type="submit" class="secondary">Log out</button>
        </form>
      </header>
      <main id="main" tabIndex={-1}>{children}</main>
    </>
  );
}

export function EmptyState({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <div class="empty" role="status">
      <h2>{title}</h2>
      <p>{children}</p>
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status}`}>{status}</span>;
}
