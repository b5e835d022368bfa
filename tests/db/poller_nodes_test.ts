/**
 * The node hub's once-a-second statement (pollerNodesRepo.touchAndLive): the connected nodes
 * still enrolled get a fresh heartbeat and are named back, a revoked one is not; each site's
 * live nodes are those with a recent heartbeat plus those just touched, never a revoked or a
 * silent one, on both backends.
 */
import { assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { pollerNodesRepo } from "../../lib/db/poller_nodes.ts";

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
