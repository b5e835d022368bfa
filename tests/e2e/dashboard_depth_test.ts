/**
 * The device page of a Windows host on the full profile, in Chromium: uptime, the services
 * table and its state filter, the top processes, the event log with its filters, the disk I/O
 * and per-core CPU charts, and the collection profile in the monitor editor.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { depthSample } from "../helpers/depth_sample.ts";
import { MetricsWriter } from "../../lib/metrics/writer.ts";
import { launchChromium } from "./browser/chromium.ts";
import { logIn } from "./browser/login.ts";

const GUARD_MS = Number(Deno.env.get("E2E_GUARD_MS") ?? 90_000);

Deno.test({
  name: "dashboard: services, processes, events and depth charts of a Windows device",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startTestServer("pglite");
    const chromium = await launchChromium();
    try {
      const token = await server.login();
      const api = (method: string, path: string, body?: unknown) =>
        server.call(method, path, { token, body });
      const cred = await api("POST", "/credential-profiles", {
        name: "c",
        type: "winrm_ntlm",
        username: "u",
        password: "depth-dashboard-pass",
      });
      const deviceId = (await api("POST", "/devices", { ip: "192.0.2.77" })).body.data.id;
      const monitor = await api("POST", "/monitors", {
        device_id: deviceId,
        credential_profile_id: cred.body.data.id,
        plugin_id: 1,
        polling_interval: 60,
        enabled: false,
        config: { profile: "full" },
      });
      assertEquals(monitor.status, 201);
      await new MetricsWriter(server.ctx.db).write({
        v: 1,
        batchId: crypto.randomUUID(),
        samples: [depthSample(monitor.body.data.id, Date.now() - 60_000, { uptimeS: 90_061 })],
        outcomes: [],
      });

      const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(GUARD_MS);
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await logIn(page, server.url, "admin", ADMIN_PASSWORD);
      await page.goto(`${server.url}/devices/${deviceId}`);

      assertEquals(await page.locator("[data-uptime]").innerText(), "1 d 1 h");
      const services = page.locator("table.services tbody tr");
      await services.first().waitFor();
      assertEquals(await services.count(), 3);
      await page.getByRole("button", { name: "Automatic, not running" }).click();
      await page.locator("section[data-services='1']").waitFor();
      assertEquals(await services.locator("td").first().innerText(), "Spooler");

      const procs = page.locator("table.processes tbody tr");
      await procs.first().waitFor();
      assertEquals(await procs.first().locator("td").first().innerText(), "sqlservr");

      const events = page.locator("table.events tbody tr");
      await events.first().waitFor();
      assertEquals(await events.count(), 2);
      await page.locator("input[name=event-id]").fill("7034");
      await page.getByRole("button", { name: "Filter" }).click();
      await page.locator("section[data-events='1']").waitFor();
      assert((await events.first().innerText()).includes("Service Control Manager"));

      assertEquals(await page.locator("#chart-diskio").count(), 1);
      assertEquals(await page.locator("#chart-cores").count(), 1);
      assertEquals(await page.locator(`#pr-${monitor.body.data.id}`).inputValue(), "full");
      assertEquals(pageErrors, []);
    } finally {
      await chromium.close();
      await server.close();
    }
  },
});
