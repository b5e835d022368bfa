/**
 * What an independent walk through the dashboard in a real browser found, kept fixed: a form
 * keeps what was typed when its type changes or the server refuses it (credential profiles,
 * a device's details); a device without a monitor asks for no history; a failed "Poll now"
 * offers no new sample; an operator refused a credential test is told why; on a phone the
 * device page does not widen and a discovery run's devices become cards, with the "Monitor"
 * boxes only for those who may use them.
 */
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startTestServer } from "../helpers/server.ts";
import { startWinsim } from "../../winsim/mod.ts";
import { launchChromium } from "./browser/chromium.ts";
import { logIn } from "./browser/login.ts";
import type { Browser, Page } from "playwright-core";

const PASSWORD = "Sim-Passw0rd!";
const BASE = "127.0.58";
const PORTS = { http: 28985, rpc: 28135 };
const GUARD_MS = Number(Deno.env.get("E2E_GUARD_MS") ?? 90_000);

async function signedIn(
  browser: Browser,
  url: string,
  username: string,
  password: string,
  width = 1280,
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  context.setDefaultTimeout(GUARD_MS);
  const page = await context.newPage();
  await logIn(page, url, username, password);
  return page;
}

Deno.test({
  name: "dashboard forms keep what was typed; no stray requests; phone widths; refusals say why",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sim = await startWinsim({
      hosts: 2,
      base: `${BASE}.1`,
      username: "Administrator",
      password: PASSWORD,
      httpPort: PORTS.http,
      httpsPort: null,
      rpcPort: PORTS.rpc,
    });
    const server = await startTestServer("pglite", { NMSLITE_POLL_RETRIES: "0" }, {
      pipeline: true,
    });
    const chromium = await launchChromium();
    try {
      const token = await server.login();
      const call = async (method: string, path: string, body?: unknown) => {
        const r = await server.call(method, path, { token, body });
        assert(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body.data;
      };
      for (const [username, role] of [["oscar", "operator"], ["vera", "viewer"]]) {
        await call("POST", "/users", { username, password: `${username}-password-1`, role });
      }
      const cred = await call("POST", "/credential-profiles", {
        name: "sim",
        type: "winrm_ntlm",
        username: "Administrator",
        password: PASSWORD,
        port: PORTS.http,
      });
      const profile = await call("POST", "/discovery-profiles", {
        name: "pair",
        credential_profile_id: cred.id,
        target: `${BASE}.1-${BASE}.2`,
        ports: [PORTS.http, PORTS.rpc],
      });
      const found = await call("POST", `/discovery-profiles/${profile.id}/run?wait=true`);
      assertEquals(found.devices.length, 2, JSON.stringify(found));
      const runId = found.run.id;
      const device = found.devices[0];
      // nothing listens on .200: its poll is refused; .201 never gets a monitor
      const refused = await call("POST", "/devices", { ip: `${BASE}.200` });
      const bare = await call("POST", "/devices", { ip: `${BASE}.201` });
      const builtin = (await call("GET", "/plugins"))
        .find((p: { name: string }) => p.name === "windows-winrm");
      await call("POST", "/monitors", {
        device_id: refused.id,
        credential_profile_id: cred.id,
        plugin_id: builtin.id,
        polling_interval: 3600,
      });

      const page = await signedIn(chromium.browser, server.url, "oscar", "oscar-password-1");
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));

      // --- a device without a monitor asks for no history (it asked for monitor 0: two 400s)
      const failed: string[] = [];
      page.on("response", (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${server.url}/devices/${bare.id}`);
      await page.getByText("Charts appear once the device has a monitor.").waitFor();
      await page.waitForLoadState("networkidle");
      assertEquals(failed, []);

      // --- the credential form keeps what was typed when the type changes
      await page.goto(`${server.url}/credentials`);
      await page.getByRole("button", { name: "New credential profile" }).click();
      const form = page.getByRole("form", { name: "New credential profile" });
      await form.getByLabel("Name", { exact: true }).fill("typed-name");
      await form.getByLabel("Username").fill("someuser");
      await form.getByLabel("Type").selectOption({ label: "WinRM with Basic sign-in" });
      assertEquals(await form.getByLabel("Name", { exact: true }).inputValue(), "typed-name");
      assertEquals(await form.getByLabel("Username").inputValue(), "someuser");
      // ... and when the server refuses it (the name is taken)
      await form.getByLabel("Type").selectOption({ label: "WinRM with Windows (NTLM) sign-in" });
      await form.getByLabel("Name", { exact: true }).fill("sim");
      await form.getByLabel(/^Password/).fill("Some-Passw0rd!");
      await form.getByRole("button", { name: "Create profile" }).click();
      await form.getByRole("alert").filter({ hasText: "already in use" }).waitFor();
      assertEquals(await form.getByLabel("Name", { exact: true }).inputValue(), "sim");
      assertEquals(await form.getByLabel("Username").inputValue(), "someuser");
      // the field the refusal names is marked and focused; typing in it clears the mark
      const taken = form.getByLabel("Name", { exact: true });
      assertEquals(await taken.getAttribute("aria-invalid"), "true");
      assert(await taken.evaluate((el) => el === document.activeElement), "the name has focus");
      assertEquals(await form.getByLabel("Username").getAttribute("aria-invalid"), null);
      await taken.press("End");
      await taken.pressSequentially("-2");
      assertEquals(await taken.getAttribute("aria-invalid"), null);
      await form.getByRole("button", { name: "Cancel" }).click();

      // --- an operator refused a test on an unknown address is told why
      await page.getByLabel("IP to test sim against").fill(`${BASE}.250`);
      await page.getByRole("button", { name: "Test" }).click();
      const refusal = page.locator(".test-result .error");
      await refusal.waitFor();
      assertMatch(await refusal.innerText(), /is not a known device: an operator may test/);

      // --- a device's details form keeps the other edits when the server refuses one
      await page.goto(`${server.url}/devices/${device.id}`);
      await page.getByRole("button", { name: "Edit details" }).click();
      const edit = page.getByRole("form", { name: `Edit device ${device.ip}` });
      const hostname = edit.getByLabel("Hostname");
      await hostname.evaluate((el) => el.removeAttribute("maxlength"));
      await hostname.fill("h".repeat(300));
      await edit.getByLabel("Serial number").fill("typed-serial");
      await edit.getByRole("button", { name: "Update device" }).click();
      await edit.getByRole("alert").filter({ hasText: "at most 255 characters" }).waitFor();
      assertEquals(await edit.getByLabel("Serial number").inputValue(), "typed-serial");
      assertEquals((await hostname.inputValue()).length, 300);
      assertEquals(await hostname.getAttribute("aria-invalid"), "true");
      assertEquals(await edit.getByLabel("Serial number").getAttribute("aria-invalid"), null);

      // --- a form refused for several reasons names each, and marks the field they are in
      await page.goto(`${server.url}/discovery`);
      await page.getByRole("button", { name: "New discovery profile" }).click();
      const discovery = page.getByRole("form", { name: "New discovery profile" });
      await discovery.getByLabel("Name", { exact: true }).fill("bad ports");
      await discovery.getByLabel(/^Target/).fill(`${BASE}.1`);
      await discovery.getByLabel(/^Ports/).fill("-5, 70000");
      await discovery.getByRole("button", { name: "Create profile" }).click();
      await discovery.getByRole("alert").filter({
        hasText: "Ports (value 1) must be 1 or more. Ports (value 2) must be 65535 or less.",
      }).waitFor();
      assertEquals(await discovery.getByLabel(/^Ports/).getAttribute("aria-invalid"), "true");
      assertEquals(await discovery.getByLabel(/^Target/).getAttribute("aria-invalid"), null);

      // --- a failed "Poll now" offers no new sample to reload for
      await page.goto(`${server.url}/devices/${refused.id}`);
      await page.getByRole("button", { name: "Poll now" }).click();
      await page.locator("[data-poll-result] li.error").waitFor();
      assertEquals(
        await page.getByRole("link", { name: "Reload to see the new sample" }).count(),
        0,
      );

      // --- on a phone the device page keeps to the screen (the collection profile select
      // widened it to 570 px) and a run's devices are cards
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${server.url}/devices/${device.id}`);
      await page.getByRole("button", { name: "Add monitor" }).waitFor();
      assertEquals(await page.evaluate(() => document.documentElement.scrollWidth), 390);
      await page.goto(`${server.url}/discovery?run=${runId}`);
      const devices = page.getByRole("table", { name: "Identified devices" });
      await devices.waitFor();
      const fits = await devices.evaluate((t) =>
        t.scrollWidth <= (t.parentElement as HTMLElement).clientWidth
      );
      assert(fits, "the identified devices fit the phone's width");
      assertEquals(await devices.getByRole("checkbox").count(), 2);
      assertEquals(pageErrors, []);

      // --- a viewer gets no "Monitor" boxes it could never tick
      const viewer = await signedIn(chromium.browser, server.url, "vera", "vera-password-1");
      await viewer.goto(`${server.url}/discovery?run=${runId}`);
      const seen = viewer.getByRole("table", { name: "Identified devices" });
      await seen.waitFor();
      assertEquals(await seen.getByRole("checkbox").count(), 0);
      assertEquals(await seen.getByRole("columnheader", { name: "Monitor" }).count(), 0);
      assertEquals(await seen.getByRole("row").count(), 3);
    } finally {
      await chromium.close();
      await server.close();
      await sim.close();
    }
  },
});
