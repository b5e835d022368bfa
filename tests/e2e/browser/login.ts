/** Logging in through the dashboard's own form, as a person does. */
import type { Page } from "playwright-core";

/** Fills and sends the login form; stays on the login page when already there (its `next`). */
export async function submitLogin(page: Page, url: string, username: string, password: string) {
  if (!page.url().startsWith(`${url}/login`)) await page.goto(`${url}/login`);
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** Logs in and waits until the dashboard has left the login page. */
export async function logIn(page: Page, url: string, username: string, password: string) {
  await submitLogin(page, url, username, password);
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}
