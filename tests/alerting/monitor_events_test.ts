/**
 * The alerting runtime follows monitor changes one monitor at a time (a fleet is created and
 * disabled monitor by monitor through the API): a monitor created after start is evaluated once
 * its change event arrives, and a disabled one is no longer evaluated.
 */
import { assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { problemsRepo } from "../../lib/db/alert_problems.ts";
import type { Database } from "../../lib/db/driver.ts";
import { sample, testSenders } from "./helpers.ts";

const OPTS = {
  ...DEFAULT_ALERTING_OPTIONS,
  tickMs: 3_600_000,
  recoveryHoldMs: 0,
  outbox: { ...DEFAULT_ALERTING_OPTIONS.outbox, pollMs: 3_600_000 },
};

const openInstances = async (db: Database) =>
  (await problemsRepo.list(db, { limit: 100, offset: 0 }, {})).items
    .filter((p) => p.state === "open").map((p) => p.instance).sort();

/** Commits a sample with C: at 95 % used and returns the open problems' instances after it. */
async function volumeSample(rt: AlertingRuntime, db: Database, monitor: number, volume: string) {
  rt.committed([sample(monitor, Date.now(), { volumes: { [volume]: 95 } })], []);
  await rt.recorder.settle();
  return openInstances(db);
}

/** Waits until `check` holds (the runtime reads the monitor again after the event). */
async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const backend of backends()) {
  Deno.test({
    name: `alerting: monitors created and disabled after start follow their events (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      const events = new EntityEvents();
      let rt: AlertingRuntime | undefined;
      try {
        await migrate(db);
        const keyring = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
        rt = new AlertingRuntime({ db, keyring, events, senders: testSenders }, OPTS);
        await rt.start();

        // Created after start, no event yet: the runtime does not know the monitor.
        const [m] = await seedMonitors(db, 1, { enabled: true, third: 91 });
        const [{ device_id: device }] = await db.query<{ device_id: number }>(
          "SELECT device_id FROM monitors WHERE id = $1",
          [m],
        );
        assertEquals(await volumeSample(rt, db, m, "C:"), [], "unknown monitor: not evaluated");

        events.emit({ entity: "device", id: device, action: "updated" });
        events.emit({ entity: "monitor", id: m, action: "created" });
        const r = rt;
        await until(
          async () => (await volumeSample(r, db, m, "D:")).includes("D:"),
          "the created monitor to be evaluated",
        );
        assertEquals(await openInstances(db), ["D:"]);

        // Disabled: its samples are no longer judged.
        await db.query("UPDATE monitors SET enabled = false WHERE id = $1", [m]);
        events.emit({ entity: "monitor", id: m, action: "updated" });
        // the event is applied in order: a later event of another monitor follows it
        const [other] = await seedMonitors(db, 1, { enabled: true, third: 92 });
        events.emit({ entity: "monitor", id: other, action: "created" });
        await until(
          async () => (await volumeSample(r, db, other, "F:")).includes("F:"),
          "the second monitor to be evaluated",
        );
        assertEquals(await volumeSample(rt, db, m, "E:"), ["D:", "F:"], "disabled: not evaluated");
      } finally {
        await rt?.stop();
        await close();
      }
    },
  });
}
