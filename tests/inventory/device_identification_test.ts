/**
 * A device added by IP gets its host name and OS from its first successful poll, asked of a
 * simulated Windows host over real sockets; a device that has a name is never asked, a host
 * that refuses is asked again only after the retry delay.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { Keyring, parseMasterKey } from "../../lib/crypto/secrets.ts";
import { devicesRepo } from "../../lib/db/devices.ts";
import { DeviceIdentification } from "../../lib/inventory/device_identification.ts";
import { identifyHost } from "../../lib/collectors/identify_host.ts";
import type { PollOutcome } from "../../lib/messages.ts";
import { startWinsim } from "../../winsim/mod.ts";

const PASSWORD = "Ident-1fy-Passw0rd";
const KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

const ok = (deviceId: number, monitorId: number, good = true): PollOutcome => ({
  monitorId,
  deviceId,
  ok: good,
  attempts: 1,
  attemptedAt: Date.now(),
  dueAt: Date.now(),
  durationMs: 5,
});

for (const backend of backends()) {
  Deno.test({
    name: `device identification (${backend}): first good poll names a device added by IP`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const sim = await startWinsim({
        hosts: 3,
        base: "127.0.49.1",
        username: "Administrator",
        password: PASSWORD,
        httpPort: 0,
        httpsPort: null,
      });
      const { db, close } = await openTestDatabase(backend);
      try {
        await migrate(db);
        const keyring = await Keyring.create(parseMasterKey(KEY));
        // each simulated host listens on a port of its own: one profile per host
        const profile = async (host: { ip: string; httpPort: number }, password: string) =>
          (await db.query<{ id: number }>(
            `INSERT INTO credential_profiles (name, type, username, password_enc, port)
             VALUES ($1, 'winrm_ntlm', 'Administrator', $2, $3) RETURNING id`,
            [host.ip, await keyring.encrypt(password), host.httpPort],
          ))[0].id;
        const device = async (ip: string, hostname: string | null, credential: number) => {
          const [d] = await db.query<{ id: number }>(
            "INSERT INTO devices (ip, hostname) VALUES ($1, $2) RETURNING id",
            [ip, hostname],
          );
          const [m] = await db.query<{ id: number }>(
            `INSERT INTO monitors (device_id, credential_profile_id, plugin_id, polling_interval)
             SELECT $1, $2, id, 60 FROM plugins WHERE name = 'windows-winrm' RETURNING id`,
            [d.id, credential],
          );
          return { id: d.id, monitor: m.id };
        };
        const [h0, h1, h2] = sim.hosts;
        const nameless = await device(h0.ip, null, await profile(h0, PASSWORD));
        const named = await device(h1.ip, "set-by-operator", await profile(h1, PASSWORD));
        const refused = await device(h2.ip, null, await profile(h2, "wrong-password"));

        const asked: string[] = [];
        const clock = { now: Date.now() };
        const renamed: number[] = [];
        const identification = new DeviceIdentification(db, keyring, {
          identify: (ip, credential, signal) => {
            asked.push(ip);
            return identifyHost(ip, credential, signal);
          },
          timeoutMs: 15_000,
          retryAfterMs: 60_000,
          now: () => clock.now,
          onIdentified: (id) => renamed.push(id),
        });

        // a failed poll asks nobody; good ones ask only the nameless hosts
        await identification.record([ok(nameless.id, nameless.monitor, false)]);
        assertEquals(asked, []);
        await identification.record([
          ok(nameless.id, nameless.monitor),
          ok(named.id, named.monitor),
          ok(refused.id, refused.monitor),
        ]);
        assertEquals(asked.sort(), [h0.ip, h2.ip].sort());

        const d0 = await devicesRepo.get(db, nameless.id);
        const os = sim.instances(h0.ip, "Win32_OperatingSystem")[0];
        assertEquals(d0?.hostname, h0.name);
        assertEquals(d0?.os, String(os.Caption).trim());
        assert(d0?.os_version?.includes(String(os.BuildNumber)), d0?.os_version ?? "no version");
        assertEquals(d0?.status, "discovered", "identity only, the status stays");
        assertEquals((await devicesRepo.get(db, named.id))?.hostname, "set-by-operator");
        assertEquals((await devicesRepo.get(db, refused.id))?.hostname, null);
        assertEquals(identification.counters.identified, 1);
        assertEquals(renamed, [nameless.id], "the schedule hears of the new name");
        assertEquals(identification.counters.failed, 1);
        const audit = await db.query<{ action: string; entity_id: string }>(
          "SELECT action, entity_id FROM audit_log WHERE action = 'identify'",
        );
        assertEquals(audit.map((a) => Number(a.entity_id)), [nameless.id]);

        // identified and named devices are no longer looked up; the refusing one waits
        asked.length = 0;
        const lookups = identification.counters.lookups;
        await identification.record([
          ok(nameless.id, nameless.monitor),
          ok(named.id, named.monitor),
          ok(refused.id, refused.monitor),
        ]);
        assertEquals(asked, []);
        assertEquals(identification.counters.lookups, lookups, "no query for known devices");
        clock.now += 60_000;
        await identification.record([ok(refused.id, refused.monitor)]);
        assertEquals(asked, [h2.ip], "asked again after the retry delay");
      } finally {
        await close();
        await sim.close();
      }
    },
  });
}
