/**
 * The webhook channel against a real HTTP receiver on loopback: signature, idempotency key,
 * custom headers, the chat presets, outcome classification, and the refusal of link-local and
 * cloud-metadata targets before any connection is made.
 */
import {
  createSender,
  testNotification,
  validateChannel,
} from "../../lib/alerting/channels/mod.ts";
import type { SenderDeps } from "../../lib/alerting/channels/mod.ts";
import type { Notification } from "../../lib/alerting/notification.ts";
import type { Resolver } from "../../lib/alerting/channels/target_guard.ts";
import { selfSignedServerCertificate } from "../../lib/tls_certificate.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { freePort } from "../helpers/ports.ts";
import { sampleNotification } from "../helpers/notifications.ts";
import { startWebhookReceiver } from "../helpers/webhook_receiver.ts";

const HMAC = "hmac-secret-value-123";
const TOKEN = "Bearer very-secret-token-999";

function webhook(settings: Record<string, unknown>, secrets: unknown = {}, deps?: SenderDeps) {
  const v = validateChannel("webhook", settings, secrets);
  if (!v.ok) throw new Error(`${v.field}: ${v.message}`);
  return createSender(
    { id: 1, name: "hook", type: "webhook", settings: v.settings, secrets: v.secrets },
    deps ?? { allowLinkLocal: false },
  );
}

Deno.test("webhook: signed default payload with idempotency key and custom headers", async () => {
  const rx = await startWebhookReceiver(HMAC);
  try {
    const n = sampleNotification();
    const sender = webhook(
      { url: `${rx.url}/hook?x=1` },
      { hmacSecret: HMAC, headers: { Authorization: TOKEN, "X-Team": "ops" } },
    );
    const outcome = await sender.send(n);
    assertEquals(outcome.ok, true, JSON.stringify(outcome));
    assertEquals(rx.received.length, 1);
    const got = rx.received[0];
    assertEquals(got.method, "POST");
    assertEquals(got.path, "/hook");
    assertEquals(got.signatureValid, true, "HMAC over timestamp.body verifies");
    assertMatch(got.headers.get("x-nmslite-timestamp")!, /^\d{10}$/);
    assertEquals(got.headers.get("idempotency-key"), n.idempotencyKey);
    assertEquals(got.headers.get("x-nmslite-event"), "firing");
    assertEquals(got.headers.get("authorization"), TOKEN);
    assertEquals(got.headers.get("x-team"), "ops");
    assertEquals(got.headers.get("content-type"), "application/json");
    assertEquals(JSON.parse(got.body), n, "the default preset is the Notification itself");
  } finally {
    await rx.close();
  }
});

Deno.test("webhook: a wrong secret does not verify; no secret sends no signature", async () => {
  const rx = await startWebhookReceiver(HMAC);
  try {
    await webhook({ url: rx.url }, { hmacSecret: "another-secret" }).send(sampleNotification());
    await webhook({ url: rx.url }).send(sampleNotification());
    assertEquals(rx.received.map((r) => r.signatureValid), [false, null]);
  } finally {
    await rx.close();
  }
});

const TRICKY: Partial<Notification> = {
  summary: 'C: "92.5 %" used\nline two \\ back\u2028slash — ünïcode </script>',
  deviceName: 'WIN-"01"',
  instance: "C:\\",
};

Deno.test("webhook: slack and mattermost presets render valid Slack-format JSON", async () => {
  const rx = await startWebhookReceiver();
  try {
    const n = sampleNotification(TRICKY);
    for (const preset of ["slack", "mattermost"]) {
      assertEquals((await webhook({ url: rx.url, preset }).send(n)).ok, true);
    }
    for (const r of rx.received) {
      const body = JSON.parse(r.body);
      assertEquals(body.text, '[HIGH] Volume > 90 % used on WIN-"01" (C:\\) — firing');
      const att = body.attachments[0];
      assertEquals(att.text, TRICKY.summary, "escaping round-trips every character");
      assertEquals(att.color, "#E8612C");
      assertEquals(att.title_link, n.url);
      assertEquals(att.fields[1].value, `WIN-"01" (${n.deviceIp})`);
    }
  } finally {
    await rx.close();
  }
});

Deno.test("webhook: teams preset is a message with an Adaptive Card; resolved turns green", async () => {
  const rx = await startWebhookReceiver();
  try {
    const n = sampleNotification({
      ...TRICKY,
      kind: "resolved",
      resolvedAt: new Date().toISOString(),
    });
    assertEquals((await webhook({ url: rx.url, preset: "teams" }).send(n)).ok, true);
    const body = JSON.parse(rx.received[0].body);
    assertEquals(body.type, "message");
    const att = body.attachments[0];
    assertEquals(att.contentType, "application/vnd.microsoft.card.adaptive");
    assertEquals(att.content.type, "AdaptiveCard");
    assertEquals(att.content.body[0].color, "good");
    assertMatch(att.content.body[0].text, /— resolved$/);
    assertEquals(att.content.body[1].text, TRICKY.summary);
    assertEquals(att.content.actions[0].url, n.url);
  } finally {
    await rx.close();
  }
});

Deno.test("webhook: custom template with text and JSON slots", async () => {
  const rx = await startWebhookReceiver();
  try {
    const template =
      '{"msg": "{{severityUpper}} {{summary}}", "v": {{json value}}, "tags": {{json tags}}, "r": {{json resolvedAt}}}';
    const n = sampleNotification(TRICKY);
    assertEquals((await webhook({ url: rx.url, template }).send(n)).ok, true);
    assertEquals(JSON.parse(rx.received[0].body), {
      msg: `HIGH ${TRICKY.summary}`,
      v: 92.5,
      tags: ["prod", "web-tier"],
      r: null,
    });
  } finally {
    await rx.close();
  }
});

Deno.test("webhook: outcomes are classified and never carry secrets", async () => {
  const rx = await startWebhookReceiver(HMAC);
  const answers: Record<string, number> = {
    "/s500": 500,
    "/s503": 503,
    "/s429": 429,
    "/s408": 408,
    "/s404": 404,
    "/s400": 400,
    "/s204": 204,
  };
  rx.respond = (r) => {
    if (r.path === "/redirect") {
      return new Response(null, { status: 307, headers: { location: `${rx.url}/elsewhere` } });
    }
    const status = answers[r.path] ?? 200;
    if (status === 204) return new Response(null, { status });
    // a receiver that echoes what it got must not leak it through the outcome's detail
    return new Response(
      `echo ${r.headers.get("authorization")} ${r.headers.get("x-nmslite-signature")}`,
      { status },
    );
  };
  try {
    const send = (path: string) =>
      webhook({ url: `${rx.url}${path}` }, { hmacSecret: HMAC, headers: { Authorization: TOKEN } })
        .send(sampleNotification());
    const expect: [string, boolean, boolean][] = [
      ["/s204", true, false],
      ["/s500", false, true],
      ["/s503", false, true],
      ["/s429", false, true],
      ["/s408", false, true],
      ["/s404", false, false],
      ["/s400", false, false],
    ];
    for (const [path, ok, retryable] of expect) {
      const o = await send(path);
      assertEquals(o.ok, ok, `${path} ok`);
      if (!o.ok) {
        assertEquals(o.retryable, retryable, `${path} retryable`);
        assertEquals(o.status, `HTTP ${path.slice(2)}`);
        assert(!o.detail.includes("very-secret-token"), `${path}: detail leaks the token`);
        assert(o.detail.includes("echo ***"), `${path}: detail keeps the rest: ${o.detail}`);
      }
    }
    const redirected = await send("/redirect");
    assertEquals(redirected.ok, false);
    if (!redirected.ok) {
      assertEquals(redirected.retryable, false);
      assertMatch(redirected.detail, /redirects are not followed/);
    }
    assertEquals(rx.received.filter((r) => r.path === "/elsewhere").length, 0);
  } finally {
    await rx.close();
  }
});

Deno.test("webhook: a closed port is a retryable network failure; a silent one times out", async () => {
  const closed = await freePort();
  const o = await webhook({ url: `http://127.0.0.1:${closed}/` }).send(sampleNotification());
  assertEquals(o.ok, false);
  if (!o.ok) {
    assertEquals([o.status, o.retryable], ["network", true]);
  }

  // accepts the connection and never answers
  const port = await freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })();
  try {
    const t = await webhook({ url: `http://127.0.0.1:${port}/`, timeoutMs: 1000 })
      .send(sampleNotification());
    assertEquals(t.ok, false);
    if (!t.ok) assertEquals([t.status, t.retryable], ["timeout", true]);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("webhook: template errors are rejected at validation and at send", async () => {
  const bad = validateChannel("webhook", { url: "http://127.0.0.1/", template: '{"a": {{x}}' }, {});
  assertEquals(bad.ok, false);
  const sender = createSender({
    id: 1,
    name: "h",
    type: "webhook",
    // a stored template that renders invalid JSON (bypassing validation) fails without sending
    settings: {
      url: "http://127.0.0.1:9/",
      preset: "default",
      template: "{{summary}}",
      timeoutMs: 1000,
      tlsVerify: true,
    },
    secrets: {},
  }, { allowLinkLocal: false });
  const o = await sender.send(sampleNotification());
  assertEquals(o.ok, false);
  if (!o.ok) assertEquals([o.status, o.retryable], ["template", false]);
});

Deno.test("webhook over HTTPS: the name's certificate is verified on the pinned address", async () => {
  const pems = await selfSignedServerCertificate("localhost", 1);
  const port = await freePort();
  const seen: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, cert: pems.cert, key: pems.private, onListen() {} },
    async (req) => {
      seen.push(`${req.headers.get("host")} ${(await req.json()).kind}`);
      return new Response("ok");
    },
  );
  const resolve: Resolver = () => Promise.resolve([{ address: "127.0.0.1", family: 4 }]);
  try {
    const url = `https://localhost:${port}/in`;
    const untrusted = await webhook({ url }, {}, { allowLinkLocal: false, resolve })
      .send(sampleNotification());
    assertEquals(untrusted.ok, false, "a self-signed certificate is not trusted by default");
    if (!untrusted.ok) assertEquals(untrusted.status, "network");

    const trusted = await webhook({ url, caPem: pems.cert }, {}, { allowLinkLocal: false, resolve })
      .send(sampleNotification());
    assertEquals(trusted.ok, true, JSON.stringify(trusted));

    // the certificate names localhost, not other.test: verification fails on the name
    const wrongName = await webhook(
      { url: `https://other.test:${port}/in`, caPem: pems.cert },
      {},
      { allowLinkLocal: false, resolve },
    ).send(sampleNotification());
    assertEquals(wrongName.ok, false);

    const unverified = await webhook(
      { url: `https://other.test:${port}/in`, tlsVerify: false },
      {},
      { allowLinkLocal: false, resolve },
    ).send(sampleNotification());
    assertEquals(unverified.ok, true, JSON.stringify(unverified));
    assertEquals(seen, [`localhost:${port} firing`, `other.test:${port} firing`]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("webhook: an aborted delivery sends nothing and may be retried", async () => {
  const rx = await startWebhookReceiver();
  try {
    const ac = new AbortController();
    ac.abort();
    const o = await webhook({ url: rx.url }).send(sampleNotification(), ac.signal);
    assertEquals(o.ok, false);
    if (!o.ok) assertEquals([o.status, o.retryable], ["aborted", true]);
    assertEquals(rx.received.length, 0);
  } finally {
    await rx.close();
  }

  // aborted while the receiver holds the request: ends at once, nothing left dangling
  const port = await freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const ac = new AbortController();
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) {
      held.push(c);
      ac.abort();
    }
  })();
  try {
    const o = await webhook({ url: `http://127.0.0.1:${port}/`, timeoutMs: 60_000 })
      .send(sampleNotification(), ac.signal);
    assertEquals(o.ok, false);
    if (!o.ok) assertEquals([o.status, o.retryable], ["aborted", true]);
    assertEquals(held.length, 1);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const c of held) c.close();
  }
});

Deno.test("webhook: every preset renders the test notification as valid JSON", async () => {
  const rx = await startWebhookReceiver();
  try {
    for (const preset of ["default", "slack", "teams", "mattermost"]) {
      const o = await webhook({ url: rx.url, preset }).send(testNotification("ops hook"));
      assertEquals(o.ok, true, `${preset}: ${JSON.stringify(o)}`);
    }
    const bodies = rx.received.map((r) => JSON.parse(r.body));
    assertEquals(bodies[0].kind, "test");
    assertEquals(bodies[1].text, "[INFO] NMSlite test notification on NMSlite — test");
    assertEquals(rx.received.map((r) => r.headers.get("x-nmslite-event")), [
      "test",
      "test",
      "test",
      "test",
    ]);
  } finally {
    await rx.close();
  }
});
