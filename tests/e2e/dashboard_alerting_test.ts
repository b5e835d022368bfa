/**
 * The alerting pages in a real browser against the full server: the problems page lists an
 * open problem and acknowledges it with a comment; the rules page creates a rule, and shows the
 * API's refusal of a threshold of the wrong kind in words; the maintenance and notification
 * pages render; the overview counts open problems.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { ADMIN_PASSWORD, startTestServer } from "../helpers/server.ts";
import { launchChromium } from "./browser/chromium.ts";
import { logIn } from "./browser/login.ts";
import { problemsRepo } from "../../lib/db/alert_problems.ts";
import { alertRulesRepo } from "../../lib/db/alert_rules.ts";

const GUARD_MS = Number(Deno.env.get("E2E_GUARD_MS") ?? 90_000);

Deno.test({
  name: "dashboard: problems (acknowledge), alert rules (create, refusal), alerting pages",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const server = await startTestServer("pglite");
    const chromium = await launchChromium();
    try {
      const token = await server.login();
      const device = (await server.call("POST", "/devices", {
        token,
        body: { ip: "127.0.0.77", hostname: "WIN-ALERT" },
      })).body.data;
      const rule = (await alertRulesRepo.all(server.ctx.db)).find((r) =>
        r.metric === "volume_used_percent"
      )!;
      const problemId = await problemsRepo.open(server.ctx.db, {
        rule_id: rule.id,
        rule_name: rule.name,
        device_id: device.id,
        instance: "C:",
        severity: "high",
        opened_at: new Date(),
        open_value: 93.5,
        threshold: 90,
        summary: "C: Volume used % 93.5 % > 90 %",
        in_maintenance: false,
      });
      assert(problemId);

      const context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
      context.setDefaultTimeout(GUARD_MS);
      const page = await context.newPage();
      const pageErrors: string[] = [];
      page.on("pageerror", (e) => pageErrors.push(e.message));
      await logIn(page, server.url, "admin", ADMIN_PASSWORD);

      // Overview counts, and the way to the problems page.
      await page.getByRole("link", { name: "1 open problem" }).click();
      await page.waitForURL((u) => u.pathname === "/problems");
      const row = page.locator(`tr[data-problem="${problemId}"]`);
      await row.getByText("C: Volume used % 93.5 % > 90 %").waitFor();
      await row.getByLabel("Comment").fill("replacing the disk");
      await row.getByRole("button", { name: "Acknowledge" }).click();
      await row.getByText("by admin: replacing the disk").waitFor();
      const acked = await server.call("GET", `/problems/${problemId}`, { token });
      assertEquals(acked.body.data.acknowledged, true);
      assertEquals(acked.body.data.ack_comment, "replacing the disk");

      // Rules: a wrong-kind threshold is refused in words; a good rule is created.
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", {
        name: "Alert rules",
      })
        .click();
      await page.getByRole("button", { name: "Create a rule" }).click();
      const form = page.getByRole("form", { name: "Create a rule" });
      await form.getByLabel("Name", { exact: true }).fill("Too many processes");
      await form.getByLabel("Metric").selectOption("cpu_percent");
      await form.getByLabel("Threshold", { exact: true }).fill("150");
      await form.getByRole("button", { name: "Create rule" }).click();
      await form.getByRole("alert").getByText(/threshold/i).waitFor();
      await form.getByLabel("Metric").selectOption("process_count");
      await form.getByLabel("Threshold", { exact: true }).fill("500");
      await form.getByLabel("For (seconds)").fill("120");
      await form.getByLabel("Severity").selectOption("high");
      await form.getByRole("button", { name: "Create rule" }).click();
      await page.getByRole("cell", { name: "Too many processes" }).waitFor();
      const rules = (await server.call("GET", "/alert-rules?limit=100", { token })).body.data;
      const created = rules.find((r: { name: string }) => r.name === "Too many processes");
      assertEquals(
        [created?.metric, created?.threshold, created?.for_seconds, created?.severity],
        ["process_count", 500, 120, "high"],
      );

      // The other pages render for an admin.
      await page.goto(`${server.url}/maintenance`);
      await page.getByRole("heading", { name: "Maintenance windows" }).waitFor();
      await page.goto(`${server.url}/notifications`);
      await page.getByRole("heading", { name: "Notifications" }).waitFor();
      await page.getByRole("heading", { name: "Dead letters" }).waitFor();
      assertEquals(pageErrors, []);
    } finally {
      await chromium.close();
      await server.close();
    }
  },
});
