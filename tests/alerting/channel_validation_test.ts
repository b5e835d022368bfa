/**
 * validateChannel: bad input names the field; good input comes back in the stored form, which
 * validates to itself. And the template language: it substitutes known variables and nothing
 * else (no code, no property paths, no prototype).
 */
import { channelSettingsSchemas, validateChannel } from "../../lib/alerting/channels/mod.ts";
import {
  parseTemplate,
  renderJson,
  renderText,
  templateVariables,
} from "../../lib/alerting/channels/template.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { sampleNotification } from "../helpers/notifications.ts";

const HOOK = { url: "https://hooks.example.test/services/T/B/x" };
const MAIL = { host: "smtp.example.test", from: "nms@example.test", to: ["ops@example.test"] };
const AM = { url: "http://127.0.0.1:9093" };

Deno.test("validateChannel: bad input names the field", () => {
  const cases: [string, unknown, unknown, string, RegExp][] = [
    ["webhook", {}, {}, "settings.url", /./],
    ["webhook", { url: "ftp://x.test/" }, {}, "settings.url", /http/],
    ["webhook", { url: "not a url" }, {}, "settings.url", /http/],
    ["webhook", { ...HOOK, preset: "discord" }, {}, "settings.preset", /slack, teams/],
    [
      "webhook",
      { ...HOOK, template: '{"a": "{{summary}"}' },
      {},
      "settings.template",
      /unparseable/,
    ],
    [
      "webhook",
      { ...HOOK, template: '{"a": "{{ summary.constructor }}"}' },
      {},
      "settings.template",
      /invalid tag/,
    ],
    [
      "webhook",
      { ...HOOK, template: '{"a": "{{constructor}}"}' },
      {},
      "settings.template",
      /unknown variable "constructor"/,
    ],
    [
      "webhook",
      { ...HOOK, template: '{"a": "{{__proto__}}"}' },
      {},
      "settings.template",
      /invalid tag/,
    ],
    [
      "webhook",
      { ...HOOK, template: "{{#each tags}}x{{/each}}" },
      {},
      "settings.template",
      /invalid tag/,
    ],
    ["webhook", { ...HOOK, template: '{"a": {{summary}}}' }, {}, "settings.template", /valid JSON/],
    ["webhook", { ...HOOK, template: "{{summary}} }}" }, {}, "settings.template", /unmatched/],
    ["webhook", { ...HOOK, timeoutMs: 50 }, {}, "settings.timeoutMs", /./],
    ["webhook", { ...HOOK, caPem: "hello" }, {}, "settings.caPem", /PEM/],
    ["webhook", { ...HOOK, colour: "red" }, {}, "settings", /colour/],
    ["webhook", HOOK, { hmacSecret: "short" }, "secrets.hmacSecret", /8 characters/],
    [
      "webhook",
      HOOK,
      { headers: { "Bad Header": "x" } },
      "secrets.headers.Bad Header",
      /header name/,
    ],
    [
      "webhook",
      HOOK,
      { headers: { "Idempotency-Key": "x" } },
      "secrets.headers.Idempotency-Key",
      /cannot be overridden/,
    ],
    [
      "webhook",
      HOOK,
      { headers: { "X-A": "a\r\nInjected: 1" } },
      "secrets.headers.X-A",
      /line breaks/,
    ],
    ["webhook", HOOK, { passwd: "x" }, "secrets.passwd", /unknown secret/],
    ["email", { ...MAIL, port: 70000 }, {}, "settings.port", /1-65535/],
    ["email", { ...MAIL, port: "25" }, {}, "settings.port", /port/],
    ["email", { ...MAIL, security: "ssl" }, {}, "settings.security", /none, starttls, tls/],
    ["email", { ...MAIL, host: "bad host!" }, {}, "settings.host", /host/],
    ["email", { ...MAIL, from: "not-an-address" }, {}, "settings.from", /email address/],
    ["email", { ...MAIL, to: ["ops@example.test", "x@@y"] }, {}, "settings.to.1", /email address/],
    ["email", { ...MAIL, to: "" }, {}, "settings.to", /at least one/],
    ["email", { ...MAIL, to: [] }, {}, "settings.to", /at least one/],
    [
      "email",
      { ...MAIL, subjectTemplate: "{{nope}}" },
      {},
      "settings.subjectTemplate",
      /unknown variable "nope"/,
    ],
    ["email", { ...MAIL, bodyTemplate: "{{summary" }, {}, "settings.bodyTemplate", /unclosed/],
    ["email", { ...MAIL, username: "u" }, {}, "secrets.password", /required/],
    ["email", MAIL, { password: "p" }, "settings.username", /required/],
    [
      "email",
      { ...MAIL, security: "none", username: "u" },
      { password: "p" },
      "settings.security",
      /starttls or tls/,
    ],
    ["alertmanager", { url: "" }, {}, "settings.url", /http/],
    ["alertmanager", { ...AM, auth: "digest" }, {}, "settings.auth", /none, basic, bearer/],
    ["alertmanager", { ...AM, auth: "basic" }, {}, "settings.username", /required/],
    ["alertmanager", { ...AM, auth: "basic", username: "u" }, {}, "secrets.password", /required/],
    ["alertmanager", { ...AM, auth: "bearer" }, {}, "secrets.token", /required/],
    [
      "alertmanager",
      { ...AM, labels: { "bad-name": "x" } },
      {},
      "settings.labels.bad-name",
      /label names/,
    ],
    ["alertmanager", { ...AM, alertTtlMinutes: 1 }, {}, "settings.alertTtlMinutes", /./],
    ["pager", {}, {}, "type", /webhook, email, alertmanager/],
    ["toString", {}, {}, "type", /webhook/],
  ];
  for (const [type, settings, secrets, field, message] of cases) {
    const r = validateChannel(type as never, settings, secrets);
    const label = `${type} ${JSON.stringify(settings)} ${JSON.stringify(secrets)}`;
    assertEquals(r.ok, false, label);
    if (!r.ok) {
      assertEquals(r.field, field, label);
      assertMatch(r.message, message, label);
    }
  }
});

Deno.test("validateChannel: stored form with defaults and flat secrets, stable on re-validation", () => {
  const hook = validateChannel("webhook", { ...HOOK, preset: "slack" }, {
    hmacSecret: "0123456789",
    headers: { Authorization: "Bearer abc" },
  });
  assert(hook.ok);
  assertEquals(hook.settings, { ...HOOK, preset: "slack", timeoutMs: 10_000, tlsVerify: true });
  assertEquals(hook.secrets, { hmacSecret: "0123456789", "header:Authorization": "Bearer abc" });
  const again = validateChannel("webhook", hook.settings, hook.secrets);
  assert(again.ok);
  assertEquals([again.settings, again.secrets], [hook.settings, hook.secrets]);

  const mail = validateChannel("email", { ...MAIL, to: "a@x.test; b@x.test", username: "u" }, {
    password: "pw",
  });
  assert(mail.ok);
  assertEquals(mail.settings.to, ["a@x.test", "b@x.test"]);
  assertEquals([mail.settings.port, mail.settings.security], [587, "starttls"]);
  const tls = validateChannel("email", { ...MAIL, security: "tls" }, {});
  assert(tls.ok);
  assertEquals(tls.settings.port, 465);
  const mailAgain = validateChannel("email", mail.settings, mail.secrets);
  assert(mailAgain.ok);
  assertEquals(mailAgain.settings, mail.settings);

  const am = validateChannel("alertmanager", { ...AM, auth: "bearer" }, { token: "t0k" });
  assert(am.ok);
  assertEquals(am.settings, {
    ...AM,
    auth: "bearer",
    alertTtlMinutes: 10_080,
    labels: {},
    timeoutMs: 10_000,
    tlsVerify: true,
  });
  assertEquals(am.secrets, { token: "t0k" });
  // the schemas are plain zod: an API can reuse them
  assert(channelSettingsSchemas.email.safeParse({ type: "email", settings: MAIL }).success);
});

Deno.test("templates: substitution only; JSON escaping; empty lines dropped in text", () => {
  const n = sampleNotification({ summary: 'say "hi"\n{{deviceName}}' });
  const vars = templateVariables(n);
  // a value that looks like a tag is data, never re-expanded
  assertEquals(renderText(parseTemplate("{{summary}}"), vars), 'say "hi"\n{{deviceName}}');
  assertEquals(
    JSON.parse(renderJson(parseTemplate('{"s":"{{summary}}","n":{{json value}}}'), vars)),
    { s: 'say "hi"\n{{deviceName}}', n: 92.5 },
  );
  assertEquals(
    renderText(parseTemplate("A {{instance}}\nB {{resolvedAt}}\n\nC {{deviceName}}"), vars),
    "A C:\n\nC WIN-01",
  );
  for (const bad of ["{{toString}}", "{{hasOwnProperty}}", "{{ tags.length }}", "{{{summary}}}"]) {
    let threw = false;
    try {
      parseTemplate(bad);
    } catch {
      threw = true;
    }
    assert(threw, `${bad} must not parse`);
  }
});
