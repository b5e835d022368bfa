/**
 * The email channel (nodemailer) against a real SMTP server (Debian's python3-aiosmtpd) on
 * loopback: STARTTLS and implicit TLS with authentication, certificate verification by
 * default, the rendered subject and bodies as an independent parser decodes them, and how
 * SMTP answers are classified.
 */
import { createSender, validateChannel } from "../../lib/alerting/channels/mod.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { sampleNotification } from "../helpers/notifications.ts";
import { type SmtpServer, startSmtpServer } from "../helpers/smtp_server.ts";

function mailer(settings: Record<string, unknown>, secrets: unknown) {
  const v = validateChannel("email", settings, secrets);
  if (!v.ok) throw new Error(`${v.field}: ${v.message}`);
  return createSender(
    { id: 3, name: "mail", type: "email", settings: v.settings, secrets: v.secrets },
    { allowLinkLocal: false },
  );
}

function base(smtp: SmtpServer, over: Record<string, unknown> = {}) {
  return {
    host: "127.0.0.1",
    port: smtp.starttlsPort,
    security: "starttls",
    username: smtp.username,
    from: "NMSlite <nmslite@example.test>",
    to: ["ops@example.test", "oncall@example.test"],
    caPem: smtp.certPem,
    timeoutMs: 10_000,
    ...over,
  };
}

Deno.test("email: STARTTLS + AUTH delivers the default subject, text and HTML", async () => {
  const smtp = await startSmtpServer();
  try {
    const n = sampleNotification();
    const o = await mailer(base(smtp), { password: smtp.password }).send(n);
    assertEquals(o.ok, true, JSON.stringify(o));
    if (o.ok) assertEquals(o.status, "SMTP 250");
    const [m] = await smtp.messages();
    assertEquals(m.mode, "starttls");
    assertMatch(m.tlsVersion ?? "", /^TLSv1\.[23]$/, "upgraded with STARTTLS");
    assertEquals(m.auth?.login, smtp.username);
    assert(["PLAIN", "LOGIN"].includes(m.auth?.mechanism ?? ""), JSON.stringify(m.auth));
    assertEquals(m.mailFrom, "nmslite@example.test");
    assertEquals(m.rcptTos, ["ops@example.test", "oncall@example.test"]);
    assertEquals(m.subject, "[HIGH] Volume > 90 % used on WIN-01 (C:) — firing");
    assertEquals(m.headers["x-nmslite-idempotency-key"], n.idempotencyKey);
    assertEquals(m.messageId, "<p42-firing-1@nmslite>");
    assertEquals(m.references, "<problem-42@nmslite>");
    const text = m.text ?? "";
    assert(text.startsWith("C: 92.5 % used > 90 %\n"), JSON.stringify(text));
    assertMatch(text, /Device: +WIN-01 \(127\.0\.0\.5\)/);
    assertMatch(text, /Tags: +prod, web-tier/);
    assert(!text.includes("Resolved:"), "a line whose variables are empty is left out");
    assert(text.includes(n.url), "the link");
    const html = m.html ?? "";
    assertMatch(html, /<h2[^>]*>\[HIGH\] Volume &#62; 90 % used on WIN-01 \(C:\) — firing<\/h2>/);
    assert(html.includes(`<a href="${n.url}">`), html);
  } finally {
    await smtp.close();
  }
});

Deno.test("email: implicit TLS, custom templates, resolved", async () => {
  const smtp = await startSmtpServer();
  try {
    const o = await mailer(
      base(smtp, {
        port: smtp.tlsPort,
        security: "tls",
        to: "ops@example.test, noc@example.test",
        subjectTemplate: "{{status}} {{deviceName}}\r\nBcc: evil@example.test",
        bodyTemplate: "{{summary}} <b>{{value}}</b> at {{resolvedAt}}",
      }),
      { password: smtp.password },
    ).send(sampleNotification({
      kind: "resolved",
      value: 41,
      resolvedAt: "2026-11-28T08:00:00.000Z",
    }));
    assertEquals(o.ok, true, JSON.stringify(o));
    const [m] = await smtp.messages();
    assertEquals(m.mode, "tls");
    assertMatch(m.tlsVersion ?? "", /^TLSv1\.[23]$/);
    assertEquals(m.auth?.login, smtp.username);
    assertEquals(m.rcptTos, ["ops@example.test", "noc@example.test"]);
    assertEquals(m.subject, "RESOLVED WIN-01 Bcc: evil@example.test", "no header injection");
    assertEquals(m.headers["bcc"], undefined);
    assertEquals(m.text?.trim(), "C: 92.5 % used > 90 % <b>41</b> at 2026-11-28T08:00:00.000Z");
    assert(m.html?.includes("&#60;b&#62;41&#60;/b&#62;"), "HTML-escaped in the HTML part");
  } finally {
    await smtp.close();
  }
});

Deno.test("email: the certificate is verified unless trusted or verification is off", async () => {
  const smtp = await startSmtpServer();
  try {
    const untrusted = await mailer(base(smtp, { caPem: undefined }), { password: smtp.password })
      .send(sampleNotification());
    assertEquals(untrusted.ok, false, "a self-signed certificate is not trusted by default");
    if (!untrusted.ok) assert(!untrusted.detail.includes(smtp.password), untrusted.detail);
    assertEquals((await smtp.messages()).length, 0);

    const unverified = await mailer(
      base(smtp, { caPem: undefined, tlsVerify: false }),
      { password: smtp.password },
    ).send(sampleNotification());
    assertEquals(unverified.ok, true, JSON.stringify(unverified));
    assertEquals((await smtp.messages()).length, 1);
  } finally {
    await smtp.close();
  }
});

Deno.test("email: SMTP answers are classified; details hold no password", async () => {
  const smtp = await startSmtpServer();
  try {
    const wrong = await mailer(base(smtp), { password: "not-the-password" })
      .send(sampleNotification());
    assertEquals(wrong.ok, false);
    if (!wrong.ok) {
      assertEquals([wrong.status, wrong.retryable], ["SMTP 535", false]);
      assert(!wrong.detail.includes("not-the-password"), wrong.detail);
    }

    const rejected = await mailer(base(smtp, { to: ["reject@example.test"] }), {
      password: smtp.password,
    }).send(sampleNotification());
    assertEquals(rejected.ok, false);
    if (!rejected.ok) assertEquals([rejected.status, rejected.retryable], ["SMTP 550", false]);

    const later = await mailer(base(smtp, { to: ["tempfail@example.test"] }), {
      password: smtp.password,
    }).send(sampleNotification());
    assertEquals(later.ok, false);
    if (!later.ok) assertEquals([later.status, later.retryable], ["SMTP 451", true]);

    const down = await mailer(base(smtp, { port: 9 }), { password: smtp.password })
      .send(sampleNotification());
    assertEquals(down.ok, false);
    if (!down.ok) assertEquals(down.retryable, true, down.status);
    assertEquals((await smtp.messages()).length, 0);
  } finally {
    await smtp.close();
  }
});
