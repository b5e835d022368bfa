/**
 * The Alertmanager channel against a real Alertmanager (Debian's prometheus-alertmanager) on
 * a loopback port: firing alerts appear in its /api/v2/alerts with the labels teams route on,
 * resolved ones end, and basic authentication works both ways.
 */
import {
  createSender,
  testNotification,
  validateChannel,
} from "../../lib/alerting/channels/mod.ts";
import type { Notification } from "../../lib/alerting/notification.ts";
import { assert, assertEquals } from "../helpers/assert.ts";
import { type AlertmanagerAlertView, startAlertmanager } from "../helpers/alertmanager.ts";
import { sampleNotification } from "../helpers/notifications.ts";

function sender(settings: Record<string, unknown>, secrets: unknown = {}) {
  const v = validateChannel("alertmanager", settings, secrets);
  if (!v.ok) throw new Error(`${v.field}: ${v.message}`);
  return createSender(
    { id: 2, name: "am", type: "alertmanager", settings: v.settings, secrets: v.secrets },
    { allowLinkLocal: false },
  );
}

const byDevice = (alerts: AlertmanagerAlertView[], device: string) =>
  alerts.filter((a) => a.labels.device === device);

Deno.test("alertmanager: firing appears with labels and annotations; resolved ends", async () => {
  const am = await startAlertmanager();
  try {
    const channel = sender({ url: am.url + "/", labels: { env: "lab" } });
    const disk = sampleNotification();
    const cpu: Notification = sampleNotification({
      idempotencyKey: "p43-firing-1",
      problemId: 43,
      ruleName: "CPU > 90 %",
      severity: "critical",
      deviceName: "WIN-02",
      deviceIp: "127.0.0.6",
      instance: "",
      tags: [],
      summary: "CPU 97 % > 90 %",
      value: 97,
    });
    for (const n of [disk, cpu]) {
      const o = await channel.send(n);
      assertEquals(o.ok, true, JSON.stringify(o));
    }

    const firing = await am.alerts();
    assertEquals(firing.length, 2);
    const [a] = byDevice(firing, "WIN-01");
    assertEquals(a.labels, {
      alertname: "Volume > 90 % used",
      severity: "high",
      device: "WIN-01",
      ip: "127.0.0.5",
      instance: "C:",
      tags: ",prod,web-tier,",
      tag_prod: "true",
      tag_web_tier: "true",
      env: "lab",
    });
    assertEquals(a.annotations, {
      summary: "C: 92.5 % used > 90 %",
      url: disk.url,
      value: "92.5",
      threshold: "90",
    });
    assertEquals(a.status.state, "active");
    assertEquals(a.generatorURL, disk.url);
    assertEquals(Date.parse(a.startsAt), Date.parse(disk.openedAt));
    // a firing alert must outlive Alertmanager's resolve_timeout (5 min) until NMSlite resolves it
    assert(Date.parse(a.endsAt) > Date.now() + 24 * 3600_000, `endsAt ${a.endsAt} too soon`);
    const [c] = byDevice(firing, "WIN-02");
    assertEquals(c.labels, {
      alertname: "CPU > 90 %",
      severity: "critical",
      device: "WIN-02",
      ip: "127.0.0.6",
      env: "lab",
    });

    const resolved = await channel.send({
      ...disk,
      idempotencyKey: "p42-resolved-2",
      kind: "resolved",
      sequence: 2,
      value: 40,
      resolvedAt: new Date().toISOString(),
    });
    assertEquals(resolved.ok, true, JSON.stringify(resolved));
    const after = await am.alerts();
    assertEquals(byDevice(after, "WIN-01"), [], "the resolved alert is no longer active");
    assertEquals(byDevice(after, "WIN-02").length, 1, "the other problem stays firing");
  } finally {
    await am.close();
  }
});

Deno.test("alertmanager: basic authentication, and a wrong password is a final 401", async () => {
  const auth = { username: "nmslite", password: "am-pass-4711" };
  const am = await startAlertmanager({ basicAuth: auth });
  try {
    const good = sender({ url: am.url, auth: "basic", username: auth.username }, {
      password: auth.password,
    });
    const o = await good.send(testNotification("am"));
    assertEquals(o.ok, true, JSON.stringify(o));
    const alerts = await am.alerts();
    assertEquals(alerts.length, 1);
    assertEquals(alerts[0].labels, {
      alertname: "NMSlite test notification",
      severity: "info",
      device: "NMSlite",
    });
    // a test alert ends by itself within minutes
    assert(Date.parse(alerts[0].endsAt) <= Date.now() + 5 * 60_000 + 1000, alerts[0].endsAt);

    const bad = sender({ url: am.url, auth: "basic", username: auth.username }, {
      password: "wrong-password-1",
    });
    const refused = await bad.send(sampleNotification());
    assertEquals(refused.ok, false);
    if (!refused.ok) {
      assertEquals([refused.status, refused.retryable], ["HTTP 401", false]);
      assert(!refused.detail.includes("wrong-password-1"), refused.detail);
    }
  } finally {
    await am.close();
  }
});
