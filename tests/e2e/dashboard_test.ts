/**
 * The dashboard in a real browser (Debian's Chromium via playwright-core) against the full
 * server with simulated Windows hosts: log in, add a credential and test it, discover, monitor
 * what was found, watch a device's chart draw real points, change a monitor, survive an
 * invalid access token (silent refresh), log out; then a viewer sees no editing controls and
 * a forged write with the viewer's cookie is refused. Every page is screenshotted into
 * tests/artifacts/dashboard/.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";
import { parseFault, startWinsim } from "../../winsim/mod.ts";
import { launchChromium } from "./browser/chromium.ts";
import { logIn } from "./browser/login.ts";
import type { Page } from "playwright-core";

const PASSWORD = "Sim-Passw0rd!";
const BASE = "127.0.40";
const PORTS = { http: 26985, https: 26986 };
const ARTIFACTS = new URL("../artifacts/dashboard/", import.meta.url);
const GUARD_MS = Number(Deno.env.get("E2E_GUARD_MS") ?? 90_000);

/** Polls `check` until it holds; fails naming `what` after the guard. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage: true });
}

Deno.test({
  name: "dashboard end to end in Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    await Deno.remove(new URL("failure.png", ARTIFACTS)).catch(() => {});
    const sim = await startWinsim({
      hosts: 5,
      base: `${BASE}.1`,
      username: "Administrator",
      password: PASSWORD,
      httpPort: PORTS.http,
      httpsPort: PORTS.https,
    });
    const server = await startTestServer("pglite", {
      NMSLITE_POLL_RETRIES: "0",
      NMSLITE_POLL_TIMEOUT: "5s",
      NMSLITE_HEALTH_FAILURE_THRESHOLD: "3",
      NMSLITE_HEALTH_FAILURE_WINDOW: "60s",
    }, { pipeline: true });
    const chromium = await launchChromium();
    let current: Page | undefined;
    try {
      const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(GUARD_MS);
      const page = current = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      // failed requests are expected (401 before a refresh, the viewer's 403); anything else
      // logged as an error, such as a Content-Security-Policy refusal, is not
      page.on("console", (m) => {
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          pageErrors.push(m.text());
        }
      });
      const url = server.url;

      // --- a page without a session sends the browser to the login form
      await page.goto(`${url}/devices`);
      await page.waitForURL(/\/login\?next=%2Fdevices$/);
      await shot(page, "01-login");
      await logIn(page, url, "admin", "admin-password-1");
      const cookies = await context.cookies();
      const access = cookies.find((c) => c.name === "nmslite_access")!;
      // plain HTTP here: not Secure (Secure over HTTPS: tests/web_cookies_test.ts)
      assert(access.httpOnly && !access.secure && access.sameSite === "Strict", "access cookie");
      assert(cookies.find((c) => c.name === "nmslite_refresh")?.httpOnly, "refresh cookie");
      await page.getByText("No devices yet").waitFor();
      await shot(page, "02-overview-empty");

      // --- a credential profile, created and tested in the page
      await page.getByRole("link", { name: "Credentials", exact: true }).click();
      await page.getByRole("button", { name: "New credential profile" }).click();
      await page.getByLabel("Name", { exact: true }).fill("sim admins");
      await page.getByLabel("Username", { exact: true }).fill("Administrator");
      await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
      await page.getByLabel(/^Port/).fill(String(PORTS.http));
      await page.getByRole("button", { name: "Create profile" }).click();
      await page.getByRole("cell", { name: "sim admins", exact: true }).waitFor();
      assertEquals(await page.locator("text=" + PASSWORD).count(), 0, "password never shown");
      await page.getByLabel("IP to test sim admins against").fill(sim.hosts[0].ip);
      await page.getByRole("button", { name: "Test" }).click();
      await page.locator(".test-result .ok").waitFor();
      assertMatch(await page.locator(".test-result").innerText(), new RegExp(sim.hosts[0].name));
      await page.getByLabel("IP to test sim admins against").fill(`${BASE}.250`);
      await page.getByRole("button", { name: "Test" }).click();
      await page.locator(".test-result .error").waitFor();
      assertMatch(await page.locator(".test-result").innerText(), /^(connection|timeout):/);
      await shot(page, "03-credentials");

      // --- discovery: profile, run with live progress, monitor what it found
      await page.getByRole("link", { name: "Discovery", exact: true }).click();
      await page.getByRole("button", { name: "New discovery profile" }).click();
      await page.getByLabel("Name", { exact: true }).fill("sim lab");
      await page.getByLabel(/^Target/).fill(`${BASE}.0/29`);
      await page.getByLabel(/^Ports/).fill(String(PORTS.http));
      await page.getByRole("button", { name: "Create profile" }).click();
      await page.getByRole("button", { name: "Run sim lab" }).click();
      const run = page.locator("section[data-run-status]");
      await run.getByRole("progressbar", { name: "Addresses scanned" }).waitFor();
      await page.locator('section[data-run-status="completed"]').waitFor();
      assertMatch(await run.innerText(), /8 of 8 addresses scanned · 5 hosts found/);
      assertMatch(await run.innerText(), /5 identified · 0 not identified/);
      await page.getByLabel("Interval (s)").fill("10");
      await page.getByRole("button", { name: "Monitor these devices (5)" }).click();
      await page.getByText("5 monitors created.").waitFor();
      await shot(page, "04-discovery");

      // --- the devices table: search narrows it
      await page.getByRole("link", { name: "Devices", exact: true }).click();
      assertEquals(await page.locator("tbody tr").count(), 5);
      await page.getByLabel("Search").fill(sim.hosts[1].ip);
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL(/q=/);
      assertEquals(await page.locator("tbody tr").count(), 1);
      await page.goto(`${url}/devices`);
      await shot(page, "05-devices");

      // --- a device page: its chart draws real points from the history
      await page.getByRole("link", { name: sim.hosts[0].ip }).click();
      await page.waitForURL(/\/devices\/\d+$/);
      const charts = page.locator("section.charts");
      await page.waitForFunction(
        () => Number(document.querySelector("section.charts")?.getAttribute("data-points")) > 0,
        undefined,
        { timeout: GUARD_MS, polling: 500 },
      );
      assert(Number(await charts.getAttribute("data-points")) > 0, "the chart has points");
      await page.getByRole("button", { name: "24h" }).click();
      await page.reload(); // the latest-sample block is server-rendered
      await page.getByText(sim.hosts[0].name).first().waitFor();
      await shot(page, "06-device-first-samples");

      // --- change the monitor: interval, disable, enable
      const [monitor] = (await server.call("GET", `/monitors?limit=10`, {
        token: await server.login(),
      })).body.data.filter((m: { device_id: number }) =>
        page.url().endsWith(`/devices/${m.device_id}`)
      );
      await page.getByLabel(`Interval of monitor ${monitor.id} (seconds)`).fill("30");
      await page.getByRole("button", { name: "Save", exact: true }).click();
      await page.getByText("Interval saved.").waitFor();
      await page.getByRole("button", { name: "Disable" }).click();
      await page.getByRole("button", { name: "Enable" }).waitFor();
      const token = await server.login();
      let m = (await server.call("GET", `/monitors/${monitor.id}`, { token })).body.data;
      assertEquals([m.polling_interval, m.enabled], [30, false]);

      // an unusable access cookie: the island refreshes the session once and carries on
      await context.addCookies([{ ...access, value: "not-a-token" }]);
      await page.getByRole("button", { name: "Enable" }).click();
      await page.getByText("Enabled.").waitFor();
      m = (await server.call("GET", `/monitors/${monitor.id}`, { token })).body.data;
      assertEquals(m.enabled, true);

      // --- a failing host shows up as an error on the monitors page and the overview
      sim.setFault(sim.hosts[4].ip, parseFault("fault:AccessDenied"));
      await eventually("a poll error recorded", async () => {
        const list = await server.call("GET", "/monitors?limit=10", { token });
        return list.body.data.some((x: { last_error: string | null }) => x.last_error);
      });
      await page.goto(`${url}/monitors`);
      await page.locator("td.wrap code").first().waitFor();
      await shot(page, "07-monitors");
      await page.goto(`${url}/`);
      await page.getByRole("heading", { name: "Recent errors" }).waitFor();
      assert(!(await page.getByText("No poll errors").isVisible()), "errors listed");
      // the pollers' load, averaged over their report interval: a handful of hosts keep it low
      const pollerTile = page.locator(".tile", { hasText: "poller load" });
      assertMatch(await pollerTile.innerText(), /^\d+\.\d %\s+poller load/);
      assertMatch(await pollerTile.getAttribute("title") ?? "", /% at this moment$/);
      assert(!(await pollerTile.innerText()).includes("saturated"), "not saturated");
      await shot(page, "08-overview");

      // --- users: an admin creates a viewer
      await page.getByRole("link", { name: "Users", exact: true }).click();
      await page.getByLabel("Username").fill("vera");
      await page.getByLabel(/^Password/).fill("viewer-password");
      await page.getByRole("button", { name: "Create user" }).click();
      await page.getByText("User vera created.").waitFor();
      await shot(page, "09-users");

      // --- a device polled every 10 s for a while: its charts have a line to show
      const [busy] = (await server.call("GET", `/devices?q=${sim.hosts[1].ip}`, { token })).body
        .data;
      await page.goto(`${url}/devices/${busy.id}`);
      await page.waitForFunction(
        () => Number(document.querySelector("section.charts")?.getAttribute("data-points")) >= 4,
        undefined,
        { timeout: GUARD_MS, polling: 1000 },
      );
      await shot(page, "06-device");

      // --- phone width and dark mode render too
      await page.setViewportSize({ width: 390, height: 844 });
      await page.emulateMedia({ colorScheme: "dark" });
      await page.goto(page.url().replace(/\/users$/, `/devices/${monitor.device_id}`));
      await page.waitForFunction(
        () => Number(document.querySelector("section.charts")?.getAttribute("data-points")) > 0,
      );
      await shot(page, "10-device-phone-dark");
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ colorScheme: "light" });

      // --- logout clears the session
      await page.getByRole("button", { name: "Log out" }).click();
      await page.waitForURL(`${url}/login`);
      assertEquals(
        (await context.cookies()).filter((c) => c.name.startsWith("nmslite_")).length,
        0,
        "no session cookie left",
      );
      await page.goto(`${url}/devices`);
      await page.waitForURL(/\/login/);

      // --- a viewer: no editing controls; the server refuses a write anyway
      await logIn(page, url, "vera", "viewer-password");
      await page.goto(`${url}/devices/${monitor.device_id}`);
      await page.locator("section.charts").waitFor();
      for (const name of ["Save", "Disable", "Enable", "Delete", "Add monitor"]) {
        assertEquals(await page.getByRole("button", { name, exact: true }).count(), 0, name);
      }
      await shot(page, "11-device-viewer");
      await page.goto(`${url}/discovery`);
      assertEquals(await page.getByRole("button", { name: /New discovery|Run / }).count(), 0);
      await page.goto(`${url}/credentials`);
      assertEquals(await page.getByRole("button", { name: /New credential|Test/ }).count(), 0);
      const forged = await page.evaluate(async (id) => {
        const csrf = /nmslite_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? "";
        const res = await fetch(`/api/v1/monitors/${id}`, {
          method: "PUT",
          headers: { "content-type": "application/json", "x-csrf-token": csrf },
          body: JSON.stringify({ enabled: false }),
        });
        return { status: res.status, body: await res.json() };
      }, monitor.id);
      assertEquals([forged.status, forged.body.error.code], [403, "FORBIDDEN"]);
      // the same write without the CSRF token (as another site would send it)
      const crossSite = await context.request.put(`${url}/api/v1/monitors/${monitor.id}`, {
        data: { enabled: false },
        headers: { origin: "https://evil.example" },
      });
      assertEquals(crossSite.status(), 403);
      assertEquals((await crossSite.json()).error.code, "CSRF_FAILED");
      m = (await server.call("GET", `/monitors/${monitor.id}`, { token })).body.data;
      assertEquals(m.enabled, true, "the viewer changed nothing");
      assertEquals(pageErrors, [], "no script errors in the pages");
    } catch (err) {
      // what the browser showed when it failed, for the CI artifacts
      if (current) {
        await shot(current, "failure").catch(() => {});
        console.error(`failed at ${current.url()}`);
      }
      throw err;
    } finally {
      await chromium.close();
      await server.close();
      await sim.close();
    }
  },
});
