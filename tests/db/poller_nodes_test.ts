/**
 * The node hub's once-a-second statement (pollerNodesRepo.touchAndLive): the connected nodes
 * still enrolled get a fresh heartbeat and are named back, a revoked one is not; each site's
 * live nodes are those with a recent heartbeat plus those just touched, never a revoked or a
 * silent one, on both backends. A report that came with an ingest request (NodeHub.noteReport)
 * is written by the hub's next tick: version, stats and a fresh heartbeat, no statement of its
 * own.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { pollerNodesRepo } from "../../lib/db/poller_nodes.ts";
import { NodeHub } from "../../lib/nodes/hub.ts";
import { Keyring } from "../../lib/crypto/secrets.ts";
import { EntityEvents } from "../../lib/entity_events.ts";
import { eventually } from "../helpers/distributed.ts";

migratedTest("poller nodes: touch and live in one statement", async (db) => {
  const [a] = await db.query<{ id: number }>(
    "INSERT INTO sites (name) VALUES ('a') RETURNING id",
  );
  const [b] = await db.query<{ id: number }>(
    "INSERT INTO sites (name) VALUES ('b') RETURNING id",
  );
  let n = 0;
  const node = async (site: number, status: string, heartbeatAgoS: number | null) =>
    (await db.query<{ id: number }>(
      `INSERT INTO poller_nodes (site_id, name, status, last_heartbeat)
         VALUES ($1, 'n' || $4::text, $2, CASE WHEN $3::float8 IS NULL THEN NULL
           ELSE now() - make_interval(secs => $3::float8) END) RETURNING id`,
      [site, status, heartbeatAgoS, String(++n)],
    ))[0].id;
  const silentConnected = await node(a.id, "enrolled", 60); // its channel is open here
  const fresh = await node(a.id, "enrolled", 1);
  const silent = await node(a.id, "enrolled", 60);
  const revokedConnected = await node(a.id, "revoked", 1);
  const otherSite = await node(b.id, "enrolled", 1);

  const { enrolled, live } = await pollerNodesRepo.touchAndLive(
    db,
    [silentConnected, revokedConnected],
    [a.id, b.id],
    10_000,
  );
  assertEquals(enrolled, [silentConnected], "the revoked one is not named back");
  assertEquals(live.get(a.id), [silentConnected, fresh].sort((x, y) => x - y));
  assertEquals(live.get(b.id), [otherSite]);
  const [touched] = await db.query<{ recent: boolean }>(
    "SELECT last_heartbeat > now() - interval '5 seconds' AS recent FROM poller_nodes " +
      "WHERE id = $1",
    [silentConnected],
  );
  assertEquals(touched.recent, true, "the connected node's heartbeat is now");
  const [untouched] = await db.query<{ recent: boolean }>(
    "SELECT last_heartbeat > now() - interval '5 seconds' AS recent FROM poller_nodes " +
      "WHERE id = $1",
    [silent],
  );
  assertEquals(untouched.recent, false);

  const none = await pollerNodesRepo.touchAndLive(db, [], [b.id], 10_000);
  assertEquals(none.enrolled, []);
  assertEquals(none.live.get(b.id), [otherSite]);
});

migratedTest(
  "poller nodes: a report with an ingest request is written by the next tick",
  async (db) => {
    const [site] = await db.query<{ id: number }>(
      "INSERT INTO sites (name) VALUES ('a') RETURNING id",
    );
    const insert = async (status: string) =>
      (await db.query<{ id: number; site_id: number; name: string; status: "enrolled" }>(
        `INSERT INTO poller_nodes (site_id, name, status, version, last_heartbeat)
         VALUES ($1, $2, $3, '0.9', now() - interval '1 hour')
       RETURNING id, site_id, name, status`,
        [site.id, `n-${status}`, status],
      ))[0];
    const node = await insert("enrolled");
    const revoked = await insert("revoked");
    const hub = new NodeHub(
      { db, keyring: await Keyring.create(new Uint8Array(32)), events: new EntityEvents() },
      { heartbeatMs: 2_000, heartbeatTimeoutMs: 10_000 },
    );
    const stats = { polls_per_s: 12.5, buffered: 3, dropped: 0, dead_letters: 1, monitors: 40 };
    hub.start();
    try {
      hub.noteReport(node, "1.4.0", stats);
      hub.noteReport(revoked, "1.4.0", stats);
      const row = async (id: number) =>
        (await db.query<
          { version: string; stats: unknown; recent: boolean }
        >(
          `SELECT version, stats, last_heartbeat > now() - interval '5 seconds' AS recent
         FROM poller_nodes WHERE id = $1`,
          [id],
        ))[0];
      await eventually("the tick wrote the report", async () => (await row(node.id)).recent);
      const written = await row(node.id);
      assertEquals(written.version, "1.4.0");
      assertEquals(written.stats, stats);
      const live = await hub.live(site.id);
      assert(live.includes(node.id), "a node whose ingest brought its report is live");
      const untouched = await row(revoked.id);
      assertEquals(untouched.version, "0.9", "a revoked node's report is not written");
      assertEquals(untouched.recent, false);
    } finally {
      hub.stop();
    }
  },
);
