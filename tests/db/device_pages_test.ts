/**
 * The devices list, whose page the database builds as one JSON text with its total
 * (listPage's `json` mode): every item is what `GET /devices/{id}` gives for that device, pages
 * come in the order asked for and tile the set, and the total is right on a partial first page,
 * a full one, past the first page, past the end and on an empty set.
 */
import { assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { devicesRepo } from "../../lib/db/devices.ts";
import type { ListParams } from "../../lib/db/pagination.ts";

migratedTest("devices pages: items as a device read, order, tiling, totals", async (db) => {
  const n = 23;
  await db.query(
    `INSERT INTO devices (ip, hostname, os, memory_total_bytes, status, last_seen)
     SELECT ('10.9.0.' || i)::inet,
            CASE WHEN i % 5 = 0 THEN NULL ELSE 'Host-' || lpad((i * 7 % 23)::text, 2, '0')
              || CASE WHEN i = 3 THEN ' "quoted" \\ é' ELSE '' END END,
            'Windows', (i::bigint << 33), CASE WHEN i % 4 = 0 THEN 'unreachable' ELSE 'discovered' END,
            CASE WHEN i % 3 = 0 THEN now() - i * interval '1 minute' END
       FROM generate_series(1, $1::int) i`,
    [n],
  );
  const all = await db.query<{ id: number }>("SELECT id FROM devices ORDER BY id");
  assertEquals(all.length, n);

  const list = (p: Partial<ListParams>, filter = {}) =>
    devicesRepo.list(db, { limit: 10, offset: 0, ...p }, filter);

  // every item is exactly the device as read alone (same columns, same text for timestamps)
  const first = await list({ limit: 50 });
  assertEquals(first.total, n);
  for (const item of first.items) assertEquals(item, await devicesRepo.get(db, item.id));
  assertEquals(first.items.map((d) => d.id), all.map((r) => r.id));
  const quoted = first.items.find((d) => d.hostname?.includes('"'));
  assertEquals(quoted?.hostname, 'Host-21 "quoted" \\ é');
  assertEquals(first.items[0].memory_total_bytes, 2 ** 33);

  // pages in each sort order tile the whole ordering, and each says the total
  for (const sort of ["id", "ip", "hostname", "status", "last_seen", "created_at"]) {
    for (const order of ["asc", "desc"] as const) {
      const whole = await list({ limit: 100, sort, order });
      const tiled = [];
      for (let offset = 0; offset < n; offset += 7) {
        const page = await list({ limit: 7, offset, sort, order });
        assertEquals(page.total, n, `${sort} ${order} @${offset}`);
        tiled.push(...page.items.map((d) => d.id));
      }
      assertEquals(tiled, whole.items.map((d) => d.id), `${sort} ${order}`);
    }
  }
  const byHost = (await list({ limit: 100, sort: "hostname" })).items.map((d) => d.hostname);
  const named = byHost.filter((h) => h !== null) as string[];
  assertEquals(named, [...named].sort((a, b) => a.toLowerCase() < b.toLowerCase() ? -1 : 1));

  // totals: a full first page counts, a partial one counts itself, past the end still counts
  assertEquals((await list({ limit: n })).total, n);
  assertEquals((await list({ limit: 5, offset: 20 })).items.length, 3);
  const beyond = await list({ limit: 5, offset: 40 });
  assertEquals([beyond.items.length, beyond.total], [0, n]);
  const unreachable = await list({ limit: 50 }, { status: "unreachable" });
  assertEquals(unreachable.total, 5);
  assertEquals(unreachable.items.every((d) => d.status === "unreachable"), true);
  const fullFiltered = await list({ limit: 5 }, { status: "unreachable" });
  assertEquals([fullFiltered.items.length, fullFiltered.total], [5, 5]);
  const none = await list({ limit: 5, offset: 0 }, { q: "no-such-host" });
  assertEquals([none.items, none.total], [[], 0]);
  const noneLater = await list({ limit: 5, offset: 5 }, { q: "no-such-host" });
  assertEquals([noneLater.items, noneLater.total], [[], 0]);
  const search = await list({ limit: 2, offset: 1, sort: "hostname" }, { q: "host-0" });
  // Host-00 … Host-09 but 01 and 02, whose devices (i = 10, 20) have no name
  assertEquals(search.total, 8);
  assertEquals(search.items.map((d) => d.hostname), ["Host-03", "Host-04"]);
});
