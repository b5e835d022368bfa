/**
 * The alerting API's rules of input and rights: a bad rule is a 400 naming the field; channel
 * secrets are sealed at rest and in no response; only admins manage channels and policies;
 * operators manage rules, windows and tags; viewers read.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends } from "../helpers/databases.ts";
import { startTestServer } from "../helpers/server.ts";

for (const backend of backends()) {
  Deno.test({
    name: `alerting API: validation names the field, secrets stay sealed, roles (${backend})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const s = await startTestServer(backend);
      try {
        const admin = await s.login();
        for (const [username, role] of [["otto", "operator"], ["vera", "viewer"]]) {
          const res = await s.call("POST", "/users", {
            token: admin,
            body: { username, password: `${role}-password-1`, role },
          });
          assertEquals(res.status, 201);
        }
        const operator = await s.login("otto", "operator-password-1");
        const viewer = await s.login("vera", "viewer-password-1");
        const device = (await s.call("POST", "/devices", {
          token: admin,
          body: { ip: "127.0.0.9" },
        })).body.data;

        // Six default rules ship enabled, six more on the Windows depth (0009), of which the
        // named-process template is disabled until it is given a name.
        const defaults = (await s.call("GET", "/alert-rules", { token: viewer })).body.data;
        assertEquals(defaults.length, 12);
        assertEquals(
          defaults.filter((r: { enabled: boolean }) => !r.enabled).map((r: { metric: string }) =>
            r.metric
          ),
          ["process_not_running"],
        );
        const noName = await s.call("POST", "/alert-rules", {
          token: admin,
          body: {
            name: "sql down",
            metric: "process_not_running",
            operator: ">=",
            severity: "high",
            scope: { kind: "all" },
          },
        });
        assertEquals([noName.status, noName.body.error.details.field], [400, "params.process"]);

        const good = {
          name: "CPU hot",
          metric: "cpu_percent",
          operator: ">",
          threshold: 95,
          recovery_threshold: 85,
          for_seconds: 120,
          severity: "high",
          scope: { kind: "tag", tag: "prod" },
        };
        const field = async (body: unknown) => {
          const res = await s.call("POST", "/alert-rules", { token: operator, body });
          assertEquals(res.status, 400, JSON.stringify(res.body));
          return res.body.error.details.field;
        };
        assertEquals(await field({ ...good, metric: "disk_magic" }), "metric");
        assertEquals(await field({ ...good, threshold: 150 }), "threshold");
        assertEquals(
          await field({ ...good, metric: "process_count", threshold: 2.5 }),
          "threshold",
        );
        assertEquals(await field({ ...good, threshold: "high" }), "threshold");
        assertEquals(await field({ ...good, recovery_threshold: 99 }), "recovery_threshold");
        assertEquals(await field({ ...good, scope: undefined }), "scope");
        assertEquals(await field({ ...good, scope: { kind: "tag" } }), "scope.tag");
        assertEquals(await field({ ...good, scope: { kind: "device" } }), "scope.device_id");
        assertEquals(await field({ ...good, severity: "apocalyptic" }), "severity");
        const created = await s.call("POST", "/alert-rules", { token: operator, body: good });
        assertEquals(created.status, 201);
        assertEquals(created.body.data.scope, { kind: "tag", tag: "prod", device_id: null });
        assertEquals(
          (await s.call("POST", "/alert-rules", { token: viewer, body: good })).status,
          403,
        );

        // Tags: operators set them, the list counts them.
        const tagged = await s.call("PUT", `/devices/${device.id}/tags`, {
          token: operator,
          body: { tags: ["prod", "prod", "site:berlin"] },
        });
        assertEquals(tagged.body.data.tags, ["prod", "site:berlin"]);
        const badTag = await s.call("PUT", `/devices/${device.id}/tags`, {
          token: operator,
          body: { tags: ["no spaces"] },
        });
        assertEquals(badTag.body.error.details.field, "tags.0");
        assertEquals((await s.call("GET", "/device-tags", { token: viewer })).body.data, [
          { tag: "prod", devices: 1 },
          { tag: "site:berlin", devices: 1 },
        ]);

        // Channels: admin only; secrets sealed, listed by name, never by value.
        const secret = "very-secret-hmac-key";
        const headerValue = "Bearer header-secret-value";
        const channelBody = {
          name: "ops",
          type: "webhook",
          settings: { url: "http://127.0.0.1:9/hook" },
          secrets: { hmacSecret: secret, headers: { Authorization: headerValue } },
        };
        assertEquals(
          (await s.call("POST", "/notification-channels", { token: operator, body: channelBody }))
            .status,
          403,
        );
        assertEquals(
          (await s.call("GET", "/notification-channels", { token: viewer })).status,
          403,
        );
        for (const token of [viewer, operator]) {
          assertEquals(
            (await s.call("GET", "/notification-dead-letters", { token })).status,
            403,
          );
        }
        assertEquals(
          (await s.call("GET", "/notification-dead-letters", { token: admin })).status,
          200,
        );
        const channel = await s.call("POST", "/notification-channels", {
          token: admin,
          body: channelBody,
        });
        assertEquals(channel.status, 201, JSON.stringify(channel.body));
        assert(channel.body.data.secrets_set.includes("hmacSecret"));
        const listed = await s.call("GET", "/notification-channels", { token: admin });
        const got = await s.call("GET", `/notification-channels/${channel.body.data.id}`, {
          token: admin,
        });
        // An update without secrets keeps them.
        const kept = await s.call("PUT", `/notification-channels/${channel.body.data.id}`, {
          token: admin,
          body: { ...channelBody, secrets: undefined, name: "ops2" },
        });
        assertEquals(kept.body.data.secrets_set, channel.body.data.secrets_set);
        const audit = await s.call("GET", "/audit-log", { token: admin });
        for (const text of [channel, listed, got, kept, audit].map((r) => JSON.stringify(r.body))) {
          assert(!text.includes(secret) && !text.includes("header-secret-value"), text);
        }
        const [row] = await s.ctx.db.query<{ secrets: string }>(
          "SELECT secrets FROM notification_channels WHERE id = $1",
          [channel.body.data.id],
        );
        assert(row.secrets.startsWith("v1:") && !row.secrets.includes(secret), "sealed at rest");
        const badUrl = await s.call("POST", "/notification-channels", {
          token: admin,
          body: { ...channelBody, name: "bad", settings: { url: "ftp://x" } },
        });
        assertEquals(badUrl.status, 400);
        assertEquals(badUrl.body.error.details.field, "settings.url");

        // Problems: filters are validated; overview counts start at zero.
        assertEquals(
          (await s.call("GET", "/problems?severity=apocalyptic", { token: viewer })).body.error
            .details.field,
          "severity",
        );
        const overview = (await s.call("GET", "/problems/overview", { token: viewer })).body.data;
        assertEquals(overview.open, 0);
        const mw = await s.call("POST", "/maintenance-windows", {
          token: operator,
          body: { name: "bad", scope: { kind: "all" }, kind: "weekly", weekdays: [] },
        });
        assertEquals(mw.body.error.details.field, "weekdays");
      } finally {
        await s.close();
      }
    },
  });
}
