/**
 * Alerting end to end below the HTTP layer, on PGlite and PostgreSQL: committed samples open
 * exactly one problem per (rule, device, volume), notifications leave through the outbox to a
 * real loopback receiver (in order, with idempotency keys, surviving a receiver outage), a
 * restart neither loses nor re-notifies, hysteresis resolves, unreachable hosts do not pile on,
 * maintenance holds and acknowledging stops repeats. Every step is driven explicitly (no timers).
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { alertRulesRepo, maintenanceRepo } from "../../lib/db/alert_rules.ts";
import type { Database } from "../../lib/db/driver.ts";
import { notifyEverythingTo, sample, startReceiver, testSenders } from "./helpers.ts";
import { problemsRepo } from "../../lib/db/alert_problems.ts";
import type { PollOutcome } from "../../lib/messages.ts";

const OPTS = {
  ...DEFAULT_ALERTING_OPTIONS,
  tickMs: 3_600_000, // the test ticks by hand
  recoveryHoldMs: 0,
  outbox: {
    baseBackoffMs: 1,
    maxBackoffMs: 1,
    maxAttempts: 50,
    pollMs: 3_600_000,
    sendTimeoutMs: 5_000,
  },
};

async function runtime(db: Database, keyring: Keyring) {
  const rt = new AlertingRuntime(
    { db, keyring, events: new EntityEvents(), senders: testSenders },
    OPTS,
  );
  await rt.start();
  return rt;
}

/** Records the transitions, then delivers everything due. */
async function flush(rt: AlertingRuntime) {
  await rt.recorder.settle();
  while (await rt.outbox.runOnce());
}

const problems = (db: Database) =>
  problemsRepo.list(db, { limit: 100, offset: 0 }, {}).then((p) => p.items);

for (const backend of backends()) {
  Deno.test({
    name: `alerting: problems, outbox, restart, hysteresis, suppression, maintenance (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      const receiver = startReceiver();
      const keyring = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
      let rt: AlertingRuntime | undefined;
      try {
        await migrate(db);
        assertEquals(
          (await alertRulesRepo.all(db)).length,
          12,
          "default rules are seeded (0007: 6, 0009: 6)",
        );
        const [m1] = await seedMonitors(db, 1, { enabled: true });
        const [{ device_id: d1 }] = await db.query<{ device_id: number }>(
          "SELECT device_id FROM monitors WHERE id = $1",
          [m1],
        );
        await notifyEverythingTo(db, receiver.url, 60);
        rt = await runtime(db, keyring);
        const t0 = Date.now() - 600_000;

        // C: past 90 % opens one problem; D: stays fine; a second sample opens nothing more.
        rt.committed([sample(m1, t0, { volumes: { "C:": 92, "D:": 50 } })], []);
        rt.committed([sample(m1, t0 + 60_000, { volumes: { "C:": 93, "D:": 50 } })], []);
        await flush(rt);
        const open = (await problems(db)).filter((p) => p.state === "open");
        assertEquals(open.map((p) => [p.rule_name, p.instance]), [[
          "Volume above 90 % used",
          "C:",
        ]]);
        assertEquals(receiver.received.length, 1);
        assertEquals(receiver.received[0].kind, "firing");
        assertEquals(receiver.received[0].instance, "C:");
        assertEquals(receiver.received[0].sequence, 1);

        // A restart mid-problem: the open problem is restored, nothing is sent again.
        await rt.stop();
        rt = await runtime(db, keyring);
        rt.committed([sample(m1, t0 + 120_000, { volumes: { "C:": 94, "D:": 50 } })], []);
        await flush(rt);
        assertEquals((await problems(db)).length, 1);
        assertEquals(receiver.received.length, 1, "nothing is sent twice after a restart");

        // Hysteresis: 88 % is below 90 but above the recovery threshold 85: still open.
        rt.committed([sample(m1, t0 + 180_000, { volumes: { "C:": 88 } })], []);
        await flush(rt);
        assertEquals((await problems(db))[0].state, "open");
        // The receiver goes down; emptying the disk resolves; the resolved notification waits.
        receiver.down = true;
        rt.committed([sample(m1, t0 + 240_000, { volumes: { "C:": 40 } })], []);
        await rt.recorder.settle();
        for (let i = 0; i < 3; i++) await rt.outbox.runOnce();
        assert(receiver.refused >= 1, "the receiver refused while down");
        const resolved = (await problems(db))[0];
        assertEquals(resolved.state, "resolved");
        assertEquals(resolved.resolve_value, 40);
        receiver.down = false;
        await new Promise((r) => setTimeout(r, 5)); // past the 1 ms backoff
        await flush(rt);
        assertEquals(receiver.received.map((n) => [n.kind, n.sequence]), [
          ["firing", 1],
          ["resolved", 2],
        ]);
        const log = await rt.stats();
        assertEquals(log.outboxPending, 0);
        assertEquals(log.deadLetters, 0);

        // CPU > 90 % for 300 s: the duration counts from the samples' own timestamps.
        const t1 = t0 + 300_000;
        rt.committed([sample(m1, t1, { cpu: 95 })], []);
        rt.committed([sample(m1, t1 + 120_000, { cpu: 96 })], []);
        await flush(rt);
        assert(!(await problems(db)).some((p) => p.rule_name === "CPU above 90 %"));
        rt.committed([sample(m1, t1 + 300_000, { cpu: 97 })], []);
        await flush(rt);
        const cpu = (await problems(db)).find((p) => p.rule_name === "CPU above 90 %");
        assertEquals(cpu?.state, "open");

        // The host goes dark: one unreachable problem; its per-metric rules do not pile on.
        const before = receiver.received.length;
        const failure: PollOutcome = {
          monitorId: m1,
          deviceId: d1,
          ok: false,
          attempts: 3,
          attemptedAt: t1 + 360_000,
          dueAt: t1 + 360_000,
          durationMs: 5,
          error: "timed out",
          errorClass: "timeout",
        };
        rt.committed([], [failure, { ...failure }, { ...failure }, { ...failure }]);
        rt.deviceReachability(d1, true);
        rt.committed([sample(m1, t1 + 420_000, { volumes: { "C:": 99 } })], []);
        await flush(rt);
        const darkOpen = (await problems(db)).filter((p) => p.state === "open");
        assertEquals(darkOpen.map((p) => p.rule_name).sort(), [
          "CPU above 90 %",
          "Device unreachable",
        ]);
        assertEquals(receiver.received.length - before, 1, "one notification for one cause");
        rt.deviceReachability(d1, false);
        await flush(rt);
        assertEquals(
          (await problems(db)).find((p) => p.rule_name === "Device unreachable")?.state,
          "resolved",
        );

        // Maintenance: the problem opens, marked; nothing is sent until the window is gone.
        const window = await maintenanceRepo.create(db, {
          name: "patching",
          scope_kind: "all",
          scope_tag: null,
          scope_device_id: null,
          kind: "once",
          starts_at: new Date(Date.now() - 60_000),
          ends_at: new Date(Date.now() + 3_600_000),
          weekdays: null,
          start_minute: null,
          duration_minutes: null,
        });
        await rt.reload();
        const sent = receiver.received.length;
        rt.committed([sample(m1, t1 + 480_000, { cpu: 97, volumes: { "C:": 93 } })], []);
        await flush(rt);
        const held = (await problems(db)).find((p) => p.state === "open" && p.instance === "C:");
        assert(held?.in_maintenance, "the problem is marked in maintenance");
        await rt.recorder.repeatDue();
        await flush(rt);
        assertEquals(receiver.received.length, sent, "maintenance holds notifications");
        await maintenanceRepo.delete(db, window.id);
        await rt.reload();
        await rt.recorder.repeatDue();
        await flush(rt);
        const afterWindow = receiver.received.slice(sent);
        assertEquals(afterWindow.map((n) => [n.kind, n.instance]), [["firing", "C:"]]);

        // Acknowledging stops repeats; an unacknowledged problem repeats at the interval.
        await problemsRepo.acknowledge(db, held!.id, "admin", "on it");
        const later = Date.now() + 3_600_000;
        const repeatedBefore = receiver.received.length;
        await rt.recorder.repeatDue(later);
        await flush(rt);
        const repeats = receiver.received.slice(repeatedBefore);
        assert(repeats.every((n) => n.problemId !== held!.id), "no repeat of an acknowledged one");
        assert(repeats.some((n) => n.problemId === cpu!.id), "the CPU problem repeats");
        const keys = receiver.received.map((n) => n.idempotencyKey);
        assertEquals(new Set(keys).size, keys.length, "every notification has its own key");
      } finally {
        await rt?.stop();
        await receiver.close();
        await close();
      }
    },
  });
}
