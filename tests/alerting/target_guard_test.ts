/**
 * Link-local and cloud-metadata targets are refused before any connection: for IP literals
 * (every IPv6 spelling of them), for names that resolve to them, and for redirect-free
 * pinning (the connection goes to the address that was checked). No test here connects to a
 * link-local address: a refusal is asserted by its outcome status "refused", which only the
 * guard produces, and the allowed path is asserted on the guard itself or against loopback.
 */
import {
  checkTarget,
  forbiddenReason,
  type Resolver,
  TargetRefusedError,
} from "../../lib/alerting/channels/target_guard.ts";
import { createSender, validateChannel } from "../../lib/alerting/channels/mod.ts";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { sampleNotification } from "../helpers/notifications.ts";
import { startWebhookReceiver } from "../helpers/webhook_receiver.ts";

Deno.test("guard: which addresses are refused", () => {
  const refused = [
    "169.254.169.254",
    "169.254.0.1",
    "169.254.255.255",
    "100.100.100.200",
    "fd00:ec2::254",
    "FD00:EC2:0:0:0:0:0:254",
    "fe80::1",
    "fe80::1%eth0",
    "febf::1",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "0:0:0:0:0:ffff:a9fe:a9fe",
    "::169.254.169.254",
    "64:ff9b::169.254.169.254",
  ];
  const allowed = [
    "127.0.0.1",
    "10.0.0.1",
    "169.253.255.255",
    "169.255.0.0",
    "192.168.1.1",
    "::1",
    "::",
    "fd00:ec2::253",
    "fec0::1",
    "::ffff:127.0.0.1",
    "2001:db8::1",
    "example.com",
  ];
  for (const a of refused) assert(forbiddenReason(a) !== null, `${a} should be refused`);
  for (const a of allowed) assertEquals(forbiddenReason(a), null, `${a} should be allowed`);
});

const mapTo = (address: string, calls: string[] = []): Resolver => (host) => {
  calls.push(host);
  return Promise.resolve([{ address, family: address.includes(":") ? 6 : 4 }]);
};

Deno.test("guard: names are checked after resolution; allowLinkLocal lets them through", async () => {
  const calls: string[] = [];
  let error: unknown;
  try {
    await checkTarget("metadata.test", {
      allowLinkLocal: false,
      resolve: mapTo("169.254.169.254", calls),
    });
  } catch (e) {
    error = e;
  }
  assert(error instanceof TargetRefusedError, "refused");
  assertMatch((error as Error).message, /metadata\.test resolves to 169\.254\.169\.254/);
  assertEquals(calls, ["metadata.test"]);

  // one bad address among good ones refuses the name
  const mixed: Resolver = () =>
    Promise.resolve([{ address: "127.0.0.1", family: 4 }, { address: "fd00:ec2::254", family: 6 }]);
  error = undefined;
  await checkTarget("mixed.test", { allowLinkLocal: false, resolve: mixed }).catch((e) =>
    error = e
  );
  assert(error instanceof TargetRefusedError, "a name with any refused address is refused");

  const allowed = await checkTarget("metadata.test", {
    allowLinkLocal: true,
    resolve: mapTo("169.254.169.254"),
  });
  assertEquals(allowed, [{ address: "169.254.169.254", family: 4 }]);
  assertEquals(
    await checkTarget("[fd00:ec2::254]", { allowLinkLocal: true }),
    [{ address: "fd00:ec2::254", family: 6 }],
  );
});

Deno.test("guard: senders refuse link-local and metadata URLs without connecting", async () => {
  const targets = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "https://[::ffff:a9fe:a9fe]:8443/",
    "http://metadata.test/computeMetadata/v1/",
  ];
  for (const type of ["webhook", "alertmanager"] as const) {
    for (const url of targets) {
      const v = validateChannel(type, { url }, {});
      assert(v.ok, `${url} is a valid URL (refusal happens at send)`);
      const sender = createSender(
        { id: 1, name: "x", type, settings: v.settings, secrets: v.secrets },
        { allowLinkLocal: false, resolve: mapTo("169.254.169.254") },
      );
      const o = await sender.send(sampleNotification());
      assertEquals(o.ok, false, url);
      if (!o.ok) {
        assertEquals([o.status, o.retryable], ["refused", false], `${type} ${url}`);
        assertMatch(o.detail, /link-local|metadata/);
      }
    }
  }
});

Deno.test("guard: the connection goes to the resolved, checked address (pinned)", async () => {
  const rx = await startWebhookReceiver();
  try {
    const calls: string[] = [];
    const v = validateChannel("webhook", { url: `http://receiver.test:${rx.port}/in` }, {});
    assert(v.ok);
    for (const allowLinkLocal of [false, true]) {
      const sender = createSender(
        { id: 1, name: "x", type: "webhook", settings: v.settings, secrets: v.secrets },
        { allowLinkLocal, resolve: mapTo("127.0.0.1", calls) },
      );
      const o = await sender.send(sampleNotification());
      assertEquals(o.ok, true, JSON.stringify(o));
    }
    assertEquals(calls, ["receiver.test", "receiver.test"], "one resolution per send");

    // several checked addresses: the connection may fall back to the next one (nothing on ::1)
    const dual: Resolver = () =>
      Promise.resolve([{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }]);
    const o = await createSender(
      { id: 1, name: "x", type: "webhook", settings: v.settings, secrets: v.secrets },
      { allowLinkLocal: false, resolve: dual },
    ).send(sampleNotification());
    assertEquals(o.ok, true, JSON.stringify(o));
    assertEquals(rx.received.map((r) => r.headers.get("host")), [
      `receiver.test:${rx.port}`,
      `receiver.test:${rx.port}`,
      `receiver.test:${rx.port}`,
    ]);
  } finally {
    await rx.close();
  }
});
