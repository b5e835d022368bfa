/**
 * Two alerting runtimes on one PostgreSQL, as two central processes run them, each seeing only
 * the samples that reach it: a problem one of them opens is known open to the other (which
 * resolves it when it sees the recovery), and a problem one resolves is known resolved to the
 * other (which opens a new one when the disk fills again). Without the problems told between
 * them (NOTIFY), the second runtime would resolve nothing and the first would open nothing.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { createScratchDatabase } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { openDatabase } from "../../lib/db/driver.ts";
import { openNotifier } from "../../lib/db/notify.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { AlertingRuntime, DEFAULT_ALERTING_OPTIONS } from "../../lib/alerting/runtime.ts";
import { sample, testSenders } from "./helpers.ts";

const OPTS = { ...DEFAULT_ALERTING_OPTIONS, tickMs: 3_600_000, recoveryHoldMs: 0 };

async function eventually(what: string, check: () => boolean | Promise<boolean>) {
  const deadline = Date.now() + 20_000;
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name: "alerting: two central runtimes, each seeing part of the samples, agree on problems",
  ignore: !Deno.env.get("TEST_DATABASE_URL"),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const scratch = await createScratchDatabase();
    const dir = await Deno.makeTempDir();
    const dbA = await openDatabase({ url: scratch.url, dataDir: dir });
    const dbB = await openDatabase({ url: scratch.url, dataDir: dir });
    const notifiers = [openNotifier(scratch.url), openNotifier(scratch.url)];
    const keyring = await Keyring.create(crypto.getRandomValues(new Uint8Array(32)));
    const runtimes: AlertingRuntime[] = [];
    try {
      await migrate(dbA);
      const monitors = await seedMonitors(dbA, 4, { enabled: true });
      for (const [i, db] of [dbA, dbB].entries()) {
        const rt = new AlertingRuntime(
          { db, keyring, events: new EntityEvents(), senders: testSenders },
          OPTS,
        );
        await rt.start();
        await rt.shareProblems(notifiers[i]);
        runtimes.push(rt);
      }
      const [a, b] = runtimes;
      const open = async () =>
        (await dbA.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM problems WHERE state = 'open' AND instance = 'C:'",
        ))[0].n;
      const t0 = Date.now() - 600_000;
      const batch = (i: number, pct: number) =>
        monitors.map((m) => sample(m, t0 + i * 60_000, { volumes: { "C:": pct } }));

      // A sees C: full: it opens the problems, and B learns they are open.
      a.committed(batch(0, 93), []);
      await a.recorder.settle();
      assertEquals(await open(), monitors.length);
      assertEquals(a.evaluator.openSeries(), monitors.length);
      await eventually(
        "B knows the problems are open",
        () => b.evaluator.openSeries() === monitors.length,
      );

      // B alone sees C: emptied: it resolves them, and A learns they are resolved.
      b.committed(batch(1, 40), []);
      await b.recorder.settle();
      assertEquals(await open(), 0, "resolved by the process that saw the recovery");
      await eventually("A knows the problems are resolved", () => a.evaluator.openSeries() === 0);

      // A sees C: full again: new problems open (it does not think the old ones still open).
      a.committed(batch(2, 94), []);
      await a.recorder.settle();
      assertEquals(await open(), monitors.length);
      const per = await dbA.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM problems WHERE instance = 'C:' GROUP BY device_id",
      );
      assert(per.every((p) => p.n === 2), `two problems per device: ${JSON.stringify(per)}`);
      // and B, seeing the same full disk, opens nothing twice
      await eventually("B knows the new ones", () => b.evaluator.openSeries() === monitors.length);
      b.committed(batch(3, 95), []);
      await b.recorder.settle();
      assertEquals(b.recorder.counters.opened, 0, "B opened nothing itself");
    } finally {
      for (const rt of runtimes) await rt.stop();
      for (const n of notifiers) await n.close();
      await dbB.close();
      await dbA.close();
      await scratch.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
