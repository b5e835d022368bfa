/**
 * The outbox sleeps between rounds until the next row falls due instead of asking the database
 * every second: a notification refused by a receiver that is down is retried when its backoff
 * runs out, with no wake and no round driven by the test, although the outbox looks for work on
 * its own only once a minute here (pollMs). Timers run for real: this is what an idle central
 * process does.
 */
import { assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { eventually } from "../helpers/distributed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { outboxRepo } from "../../lib/db/notifications.ts";
import { notifyEverythingTo, sample, startReceiver, testSenders } from "./helpers.ts";

const BACKOFF_MS = 1_500;

for (const backend of backends()) {
  Deno.test({
    name: `alerting: the outbox retries when the backoff runs out, unprompted (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      const receiver = startReceiver();
      const keyring = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
      let rt: AlertingRuntime | undefined;
      try {
        await migrate(db);
        assertEquals(await outboxRepo.nextDueInMs(db), null, "nothing pending");
        const [m1] = await seedMonitors(db, 1, { enabled: true });
        await notifyEverythingTo(db, receiver.url, 3_600);
        rt = new AlertingRuntime(
          { db, keyring, events: new EntityEvents(), senders: testSenders },
          {
            ...DEFAULT_ALERTING_OPTIONS,
            tickMs: 3_600_000,
            recoveryHoldMs: 0,
            outbox: {
              baseBackoffMs: BACKOFF_MS,
              maxBackoffMs: BACKOFF_MS,
              maxAttempts: 5,
              pollMs: 60_000,
              sendTimeoutMs: 5_000,
            },
          },
        );
        await rt.start();
        receiver.down = true;
        const t0 = Date.now() - 600_000;
        rt.committed([sample(m1, t0, { volumes: { "C:": 95 } })], []);
        // the recorder queues the notification and wakes the outbox: the first attempt fails
        await eventually(
          "the receiver refused the first attempt",
          () => Promise.resolve(receiver.refused === 1),
        );
        // (claimed, the row is held for the claim's lease; recorded, it is due after the backoff)
        await eventually("the retry is recorded as due after the backoff", async () => {
          const due = await outboxRepo.nextDueInMs(db);
          return due !== null && due > 0 && due <= BACKOFF_MS;
        });
        receiver.down = false;
        // no runOnce, no wake: the outbox's own timer takes the row when it falls due, well
        // before its once-a-minute look (eventually gives up after 20 s)
        await eventually(
          "the retry is delivered",
          () => Promise.resolve(receiver.received.length === 1),
          20_000,
        );
        assertEquals(receiver.refused, 1, "no attempt before the backoff ran out");
        assertEquals(receiver.received[0].kind, "firing");
        await eventually(
          "the delivery is recorded: nothing pending any more",
          async () => await outboxRepo.nextDueInMs(db) === null,
        );
      } finally {
        await rt?.stop();
        await receiver.close();
        await close();
      }
    },
  });
}
