/**
 * Two alerting runtimes on one database, as two central processes run them: both evaluate
 * the same committed samples (a problem opens once), and both deliver from the one outbox to
 * one loopback receiver at the same time (each notification arrives exactly once, and a
 * problem's notifications arrive in order); a repeat that falls due is queued by one of them. On PostgreSQL each runtime has its own
 * connection pool; on PGlite they share the single connection.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, createScratchDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { type Database, openDatabase } from "../../lib/db/driver.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { outboxRepo } from "../../lib/db/notifications.ts";
import type { Notification } from "../../lib/alerting/notification.ts";
import { notifyEverythingTo, sample, testSenders } from "./helpers.ts";

const OPTS = {
  ...DEFAULT_ALERTING_OPTIONS,
  tickMs: 3_600_000, // driven by hand
  recoveryHoldMs: 0,
  outbox: {
    baseBackoffMs: 1,
    maxBackoffMs: 1,
    maxAttempts: 50,
    pollMs: 3_600_000,
    sendTimeoutMs: 5_000,
  },
};

/** A receiver that answers slowly, so the two runtimes' rounds overlap. */
function slowReceiver() {
  const received: Notification[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const n = await req.json() as Notification;
    await new Promise((r) => setTimeout(r, 15));
    received.push(n);
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    close: () => server.shutdown(),
  };
}

for (const backend of backends()) {
  Deno.test({
    name: `alerting: two runtimes share problems and the outbox (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const scratch = backend === "postgres" ? await createScratchDatabase() : undefined;
      const dir = await Deno.makeTempDir();
      const dbA = await openDatabase({ url: scratch?.url, dataDir: dir });
      const dbB: Database = scratch ? await openDatabase({ url: scratch.url, dataDir: dir }) : dbA;
      const receiver = slowReceiver();
      const keyring = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
      const runtimes: AlertingRuntime[] = [];
      try {
        await migrate(dbA);
        const monitors = await seedMonitors(dbA, 12, { enabled: true });
        const channelId = await notifyEverythingTo(dbA, receiver.url, null);
        for (const db of [dbA, dbB]) {
          const rt = new AlertingRuntime(
            { db, keyring, events: new EntityEvents(), senders: testSenders },
            OPTS,
          );
          await rt.start();
          runtimes.push(rt);
        }
        const [a, b] = runtimes;

        // Both runtimes see every sample (as two centrals may): full, empty, full again per
        // monitor queues firing, resolved, firing (a second problem) before anything is sent.
        const t0 = Date.now() - 600_000;
        for (const [i, pct] of [92, 40, 93].entries()) {
          const batch = monitors.map((m) => sample(m, t0 + i * 60_000, { volumes: { "C:": pct } }));
          a.committed(batch, []);
          b.committed(batch, []);
          await Promise.all([a.recorder.settle(), b.recorder.settle()]);
        }
        const problems = await dbA.query<{ device_id: number; n: number }>(
          `SELECT device_id, count(*)::int AS n FROM problems WHERE instance = 'C:'
           GROUP BY device_id`,
        );
        assertEquals(problems.length, monitors.length);
        assert(
          problems.every((p) => p.n === 2),
          `two problems per device: ${JSON.stringify(problems)}`,
        );
        const open = await dbA.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM problems WHERE state = 'open'",
        );
        assertEquals(open[0].n, monitors.length, "one open problem per device, not two");
        const queued = await dbA.query<{ idempotency_key: string }>(
          "SELECT idempotency_key FROM notification_outbox",
        );
        assertEquals(queued.length, monitors.length * 3, "firing, resolved, firing per device");

        // Both deliver at once until the outbox is empty.
        const drain = async (rt: AlertingRuntime) => {
          for (let guard = 0; guard < 1000; guard++) {
            await rt.outbox.runOnce();
            if ((await outboxRepo.depth(dbA)).pending === 0) return;
            await new Promise((r) => setTimeout(r, 5));
          }
          throw new Error("the outbox never emptied");
        };
        await Promise.all([drain(a), drain(b)]);

        const keys = receiver.received.map((n) => n.idempotencyKey);
        const counts = new Map<string, number>();
        for (const k of keys) counts.set(k, (counts.get(k) ?? 0) + 1);
        const twice = [...counts].filter(([, n]) => n > 1);
        assertEquals(twice, [], "no notification is received twice");
        assertEquals(receiver.received.length, monitors.length * 3, "every notification arrives");
        const byProblem = new Map<number, number[]>();
        for (const n of receiver.received) {
          byProblem.set(n.problemId, [...byProblem.get(n.problemId) ?? [], n.sequence]);
        }
        for (const [id, seqs] of byProblem) {
          const sorted = [...seqs].sort((x, y) => x - y);
          assertEquals(seqs, sorted, `problem ${id}'s notifications arrive in order`);
        }
        const attempts = await dbA.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM notification_deliveries",
        );
        assertEquals(attempts[0].n, monitors.length * 3, "one logged attempt per notification");
        // A repeat falls due: both runtimes look at once, one of them queues it.
        await dbA.query("UPDATE notification_policies SET repeat_interval_s = 60");
        await dbA.query(
          "UPDATE problems SET notified_at = now() - interval '1 hour' WHERE state = 'open'",
        );
        await Promise.all([a.reload(), b.reload()]);
        const repeats = await Promise.all([a.recorder.repeatDue(), b.recorder.repeatDue()]);
        assertEquals(repeats[0] + repeats[1], monitors.length, "one repeat per open problem");
        const [{ n: rows }] = await dbA.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM notification_outbox",
        );
        assertEquals(rows, monitors.length * 4);
        await Promise.all([drain(a), drain(b)]);
        assertEquals(receiver.received.length, monitors.length * 4);
        assertEquals(
          new Set(receiver.received.map((n) => n.idempotencyKey)).size,
          monitors.length * 4,
        );
        const sent = (rt: AlertingRuntime) => rt.outbox.outcomes.get(`${channelId}|ok`) ?? 0;
        console.log(`delivered by runtime A: ${sent(a)}, by runtime B: ${sent(b)}`);
        assertEquals(sent(a) + sent(b), monitors.length * 4);
      } finally {
        for (const rt of runtimes) await rt.stop();
        await receiver.close();
        if (dbB !== dbA) await dbB.close();
        await dbA.close();
        await scratch?.drop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
