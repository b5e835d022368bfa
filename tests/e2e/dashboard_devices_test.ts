/**
 * What an operator does in the dashboard beyond discovery, in a real browser (Debian's
 * Chromium via playwright-core) whose time zone is Asia/Kolkata: add devices by IP (a
 * duplicate is refused with the reason), see them in address order (.2 before .10), poll one
 * now and see the outcome, edit it, watch another become unreachable (the monitors page says
 * how its attempts went), re-enable it and delete it with its monitor; page, search and
 * bulk-toggle the monitors; times are local with UTC on hover; at phone width the devices and
 * monitors tables need no sideways scroll; a viewer gets none of the controls.
 * Screenshots go to tests/artifacts/dashboard/.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { parseFault, startWinsim } from "../../winsim/mod.ts";
import { fmtLocal, fmtUtc } from "../../components/format.ts";
import { launchChromium } from "./browser/chromium.ts";
import { logIn } from "./browser/login.ts";
import type { Locator, Page } from "playwright-core";

const PASSWORD = "Operat0r-Sim-Pass";
const TZ = "Asia/Kolkata";
const ARTIFACTS = new URL("../artifacts/dashboard/", import.meta.url);
const GUARD_MS = Number(Deno.env.get("E2E_GUARD_MS") ?? 90_000);

async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + GUARD_MS;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.screenshot({ path: new URL(`${name}.png`, ARTIFACTS).pathname, fullPage });
}

/** A <Time> shows the browser's local time and how long ago, with UTC in its title. */
async function assertLocalTime(time: Locator, what: string): Promise<void> {
  const iso = await time.getAttribute("datetime");
  assert(iso, `${what}: a datetime`);
  assertEquals(await time.getAttribute("title"), fmtUtc(iso), `${what}: UTC on hover`);
  const text = await time.innerText();
  assert(
    text.startsWith(fmtLocal(iso, TZ)),
    `${what}: local time ${fmtLocal(iso, TZ)}, got ${text}`,
  );
  assert(fmtLocal(iso, TZ) !== fmtLocal(iso, "UTC"), "the zone differs from UTC");
  assertMatch(text, / · (just now|\d+ (s|min|h|d) ago)$/);
}

Deno.test({
  name: "dashboard: an operator's device and monitor work in Chromium",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const sim = await startWinsim({
      hosts: 1,
      base: "127.0.44.2",
      username: "Administrator",
      password: PASSWORD,
      httpPort: 0,
      httpsPort: null,
    });
    const server = await startTestServer("pglite", {
      NMSLITE_POLL_RETRIES: "0",
      NMSLITE_POLL_TIMEOUT: "3s",
      NMSLITE_HEALTH_FAILURE_THRESHOLD: "2",
      NMSLITE_HEALTH_FAILURE_WINDOW: "120s",
    }, { pipeline: true });
    const chromium = await launchChromium();
    let current: Page | undefined;
    try {
      const url = server.url;
      const token = await server.login();
      const api = (method: string, path: string, body?: unknown) =>
        server.call(method, path, { token, body });
      const cred = await api("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: sim.hosts[0].httpPort,
      });
      assertEquals(cred.status, 201);

      const context = await chromium.browser.newContext({
        viewport: { width: 1280, height: 900 },
        timezoneId: TZ,
      });
      context.setDefaultTimeout(GUARD_MS);
      const page = current = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) {
          pageErrors.push(m.text());
        }
      });
      const dialogs: string[] = [];
      page.on("dialog", (d) => {
        dialogs.push(d.message());
        d.accept();
      });
      await logIn(page, url, "admin", "admin-password-1");

      // --- add devices by IP; a duplicate is refused with the reason
      const addDevice = async (ip: string, name?: string) => {
        await page.goto(`${url}/devices`);
        await page.getByRole("button", { name: "Add a device" }).click();
        await page.getByLabel("IP address").fill(ip);
        if (name) await page.getByLabel(/^Name/).fill(name);
        await page.getByRole("button", { name: "Add device", exact: true }).click();
      };
      await addDevice("127.0.44.10", "far-away");
      await page.waitForURL(/\/devices\/\d+$/);
      const farId = Number(page.url().split("/").pop());
      await page.getByRole("heading", { name: /far-away/ }).waitFor();
      await addDevice(sim.hosts[0].ip);
      await page.waitForURL(/\/devices\/\d+$/);
      const simId = Number(page.url().split("/").pop());
      await addDevice("127.0.44.10");
      const refused = page.getByRole("alert");
      await refused.waitFor();
      assertMatch(await refused.innerText(), /127\.0\.44\.10|ip|exists/i);
      assertEquals(page.url(), `${url}/devices`);

      // --- address order, in the page and the API
      await page.goto(`${url}/devices?q=127.0.44.`);
      const ips = await page.locator("tbody tr td:first-child").allInnerTexts();
      assertEquals(ips, ["127.0.44.2", "127.0.44.10"]);
      await page.goto(`${url}/devices?q=127.0.44.&sort=ip&order=desc`);
      assertEquals(await page.locator("tbody tr td:first-child").allInnerTexts(), [
        "127.0.44.10",
        "127.0.44.2",
      ]);
      const listed = await api("GET", "/devices?q=127.0.44.&sort=ip");
      assertEquals(listed.body.data.map((d: { ip: string }) => d.ip), [
        "127.0.44.2",
        "127.0.44.10",
      ]);

      // --- the simulated host: a monitor (a day apart, so only "Poll now" polls it), poll now
      await page.goto(`${url}/devices/${simId}`);
      assertEquals(await page.getByText("Last seen").locator("..").innerText(), "Last seen\nnever");
      await page.getByLabel("Interval (s)").fill("86400");
      await page.getByRole("button", { name: "Add monitor" }).click();
      await page.locator("tr[data-monitor]").waitFor();
      await page.getByRole("button", { name: "Poll now" }).click();
      const result = page.locator("[data-poll-result] li.ok");
      await result.waitFor();
      assertMatch(await result.innerText(), /^Monitor #\d+: poll succeeded /);
      await assertLocalTime(result.locator("time"), "the poll's outcome");
      await page.getByRole("link", { name: "Reload to see the new sample" }).click();
      await page.getByRole("heading", { name: "Latest sample" }).waitFor();
      await page.locator("tr[data-monitor] time").first().waitFor();
      await assertLocalTime(page.locator("tr[data-monitor] time").first(), "last poll");
      const seen = page.locator(".facts div", { hasText: "Last seen" }).locator("time");
      await assertLocalTime(seen, "last seen (server-rendered, localised)");
      const polledAt = (await api("GET", `/monitors?device_id=${simId}`)).body.data[0].last_polled;
      assertEquals(await seen.getAttribute("datetime"), polledAt, "last seen is the last poll");
      await shot(page, "30-device-polled-now");

      // --- edit its details
      await page.getByRole("button", { name: "Edit details" }).click();
      await page.getByLabel("Hostname").fill("edge-gw");
      await page.getByLabel("OS", { exact: true }).fill("Windows Server 2022");
      await page.getByRole("button", { name: "Update device" }).click();
      await page.getByRole("heading", { name: /edge-gw/ }).waitFor();
      const edited = (await api("GET", `/devices/${simId}`)).body.data;
      assertEquals([edited.hostname, edited.os], ["edge-gw", "Windows Server 2022"]);

      // --- the far device fails: unreachable, its attempts shown, then re-enabled
      await page.goto(`${url}/devices/${farId}`);
      await page.getByLabel("Interval (s)").fill("10");
      await page.getByRole("button", { name: "Add monitor" }).click();
      await page.locator("tr[data-monitor]").waitFor();
      await eventually(
        "the far device unreachable",
        async () => (await api("GET", `/devices/${farId}`)).body.data.status === "unreachable",
      );
      await page.goto(`${url}/devices?status=unreachable`);
      assertMatch(await page.locator("tbody tr .reason").innerText(), /\S/); // why, in the list
      await page.goto(`${url}/monitors?q=127.0.44.10`);
      const farRow = page.locator("tr[data-monitor]");
      assertEquals(await farRow.count(), 1);
      assertMatch(await farRow.innerText(), /never succeeded/);
      assertMatch(await farRow.innerText(), /\d+ failed attempts?, last /);
      assertMatch(await farRow.innerText(), /not polled: device unreachable/);
      await page.goto(`${url}/devices/${farId}`);
      assert(await page.getByRole("button", { name: "Poll now" }).isDisabled(), "no poll");
      await page.getByRole("button", { name: "Re-enable polling" }).click();
      await page.getByRole("button", { name: "Stop polling" }).waitFor();
      assertEquals((await api("GET", `/devices/${farId}`)).body.data.status, "monitoring");

      // --- and deleted, with its monitor, after saying so
      await page.getByRole("button", { name: "Delete device" }).click();
      await page.waitForURL(`${url}/devices`);
      assertMatch(dialogs.at(-1)!, /far-away \(127\.0\.44\.10\), its 1 monitor and their metrics/);
      assertEquals((await api("GET", `/devices/${farId}`)).status, 404);

      // --- the monitors page: pages, search, bulk enable / disable
      await seedMonitors(server.ctx.db, 60, { third: 45 }); // disabled: never polled
      await page.goto(`${url}/monitors`);
      assertEquals(await page.locator("#monitor-count").innerText(), "1–50 of 61 monitors");
      assertEquals(await page.locator("tr[data-monitor]").count(), 50);
      await page.getByRole("link", { name: "Next" }).click();
      await page.waitForURL(/page=2/);
      assertEquals(await page.locator("#monitor-count").innerText(), "51–61 of 61 monitors");
      assertEquals(await page.locator("tr[data-monitor]").count(), 11);
      await page.goto(`${url}/monitors`);
      await page.getByLabel("Search").fill("127.0.45.1");
      await page.getByLabel("Per page").selectOption("25");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.waitForURL(/q=127\.0\.45\.1/);
      // .1 and .10–.19
      assertEquals(await page.locator("#monitor-count").innerText(), "1–11 of 11 monitors");
      const boxes = page.locator("tr[data-monitor] td.pick input");
      for (const i of [0, 1, 2]) await boxes.nth(i).check();
      await page.getByRole("button", { name: "Enable selected" }).click();
      await page.getByText("Enabled 3 monitors.").waitFor();
      const enabledNow = async () =>
        (await api("GET", "/monitors?enabled=true&limit=500")).body.data.length;
      assertEquals(await enabledNow(), 4); // and the simulated host's
      await page.getByLabel("Select all on this page").check();
      await page.getByRole("button", { name: "Disable selected" }).click();
      await page.getByText("Disabled 3 monitors (8 already disabled).").waitFor();
      assertEquals(await enabledNow(), 1);
      await page.goto(`${url}/monitors?state=enabled`);
      assertEquals(await page.locator("#monitor-count").innerText(), "1–1 of 1 monitor");

      // --- the overview's times are local too
      await page.goto(`${url}/`);
      const updated = page.locator("p", { hasText: "Updated" }).locator("time");
      const iso = (await updated.getAttribute("datetime"))!;
      assertEquals(await updated.innerText(), fmtLocal(iso, TZ));
      assertEquals(await updated.getAttribute("title"), fmtUtc(iso));

      // --- phone width: state and error of a monitor, and a device's last seen, in view
      // --- a poll that fails says why
      sim.setFault(sim.hosts[0].ip, parseFault("fault:AccessDenied"));
      await page.goto(`${url}/devices/${simId}`);
      await page.getByRole("button", { name: "Poll now" }).click();
      const failed = page.locator("[data-poll-result] li.error");
      await failed.waitFor();
      assertMatch(await failed.innerText(), /^Monitor #\d+: poll failed: .+/);
      // the monitors table of the page took the new state without a reload
      const row = page.locator("tr[data-monitor]");
      assertMatch(await row.locator("td.wrap code").innerText(), /AccessDenied/);
      assertMatch(await row.innerText(), /then 1 failed attempt, last /);
      await shot(page, "34-device-poll-failed", false);
      await page.goto(`${url}/monitors?failing=1`); // the overview's "failing" tile
      await page.getByRole("heading", { name: "Monitors failing in the last hour" }).waitFor();
      assertEquals(await page.locator("#monitor-count").innerText(), "1–1 of 1 monitor");
      assertMatch(await page.locator("tr[data-monitor] td.wrap code").innerText(), /AccessDenied/);

      await page.setViewportSize({ width: 390, height: 844 });
      const noSideways = async (what: string) => {
        const { scroll, client } = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          client: document.documentElement.clientWidth,
        }));
        assert(scroll <= client, `${what}: page ${scroll} px wide in a ${client} px window`);
        for (const wrap of await page.locator(".table-wrap").all()) {
          const { sw, cw } = await wrap.evaluate((el) => ({
            sw: el.scrollWidth,
            cw: el.clientWidth,
          }));
          assert(sw <= cw + 1, `${what}: a table scrolls sideways (${sw} > ${cw})`);
        }
      };
      const inView = async (cell: Locator, what: string) => {
        const box = await cell.boundingBox();
        assert(
          box && box.x >= 0 && box.x + box.width <= 390,
          `${what} in view: ${JSON.stringify(box)}`,
        );
      };
      await page.goto(`${url}/monitors?q=127.0.44.`);
      await page.locator("tr[data-monitor]").first().waitFor();
      await inView(page.locator('tr[data-monitor] td[data-label="State"]').first(), "state");
      await inView(page.locator('tr[data-monitor] td[data-label="Last error"]').first(), "error");
      await noSideways("monitors");
      await shot(page, "31-monitors-phone", false);
      await page.goto(`${url}/monitors`);
      await noSideways("monitors, all");
      await page.goto(`${url}/devices`);
      await inView(page.locator('td[data-label="Last seen"]').first(), "last seen");
      await inView(page.locator('td[data-label="Status"]').first(), "status");
      await noSideways("devices");
      await shot(page, "32-devices-phone", false);
      await page.goto(`${url}/credentials`);
      await page.locator('td[data-label="Name"]').first().waitFor();
      await noSideways("credentials");
      await page.goto(`${url}/devices/${simId}`);
      await page.locator("tr[data-monitor]").waitFor();
      await inView(page.locator('tr[data-monitor] td[data-label="State"]'), "device monitor state");
      await shot(page, "33-device-phone");
      await page.setViewportSize({ width: 1280, height: 900 });
      assertEquals(pageErrors, [], "no script errors in the pages");

      // --- a viewer sees none of it
      assertEquals(
        (await api("POST", "/users", {
          username: "vic",
          password: "viewer-pass-1",
          role: "viewer",
        }))
          .status,
        201,
      );
      const viewerContext = await chromium.browser.newContext({ timezoneId: TZ });
      const viewer = current = await viewerContext.newPage();
      await logIn(viewer, url, "vic", "viewer-pass-1");
      await viewer.goto(`${url}/devices`);
      await viewer.locator("tbody tr").first().waitFor();
      assertEquals(await viewer.getByRole("button", { name: "Add a device" }).count(), 0);
      await viewer.goto(`${url}/devices/${simId}`);
      await viewer.locator("section.charts").waitFor();
      for (const name of ["Poll now", "Edit details", "Delete device", "Stop polling"]) {
        assertEquals(await viewer.getByRole("button", { name }).count(), 0, name);
      }
      await assertLocalTime(viewer.locator("tr[data-monitor] time").first(), "viewer's last poll");
      await viewer.goto(`${url}/monitors`);
      await viewer.locator("tr[data-monitor]").first().waitFor();
      assertEquals(await viewer.getByRole("button", { name: /selected/ }).count(), 0);
      assertEquals(await viewer.locator('input[type="checkbox"]').count(), 0);
      const forged = await viewer.evaluate(async (id) => {
        const csrf = /nmslite_csrf=([^;]*)/.exec(document.cookie)?.[1] ?? "";
        const res = await fetch(`/api/v1/devices/${id}/poll`, {
          method: "POST",
          headers: { "x-csrf-token": csrf },
        });
        return res.status;
      }, simId);
      assertEquals(forged, 403);
    } catch (err) {
      if (current) {
        await shot(current, "devices-failure").catch(() => {});
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
