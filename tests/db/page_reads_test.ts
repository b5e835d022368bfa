/**
 * The dashboard's read models on each backend: the overview's figures (device statuses, the
 * top lists from each monitor's latest sample, recent errors), monitor rows by device and by
 * recent failure, and the pick lists of the forms.
 */
import { assertEquals } from "../helpers/assert.ts";
import { migratedTest } from "../helpers/databases.ts";
import { seedMonitors } from "../helpers/seed.ts";
import { loadOverview } from "../../lib/db/overview_reads.ts";
import { loadMonitorPage, loadMonitorRows } from "../../lib/db/monitor_rows.ts";
import { pickLists } from "../../lib/db/pick_lists.ts";

migratedTest(
  "page read models: overview, monitor rows, pick lists",
  async (db) => {
    const [m1, m2, m3] = await seedMonitors(db, 3, { enabled: true });
    const devices = await db.query<{ id: number; device_id: number }>(
      "SELECT id, device_id FROM monitors ORDER BY id",
    );
    const device = (m: number) => devices.find((r) => r.id === m)!.device_id;
    await db.query("UPDATE monitors SET last_polled = now() - interval '1 minute'");
    await db.query(
      `UPDATE monitors SET last_error = 'access denied',
         last_error_at = now() - interval '10 minutes' WHERE id = $1`,
      [m3],
    );
    await db.query("UPDATE devices SET status = 'unreachable' WHERE id = $1", [device(m3)]);
    await db.query("UPDATE devices SET hostname = 'WEB-2' WHERE id = $1", [device(m2)]);
    const sample = (m: number, ago: string, cpu: number, mem: number, disk: number) =>
      db.query(
        `INSERT INTO metrics (monitor_id, ts, cpu_percent, memory_total, memory_used,
           disk_total, disk_used) VALUES ($1, now() - $2::interval, $3, 100, $4, 1000, $5)`,
        [m, ago, cpu, mem, disk],
      );
    await sample(m1, "5 minutes", 99, 90, 900); // older: only the latest counts
    await sample(m1, "1 minute", 10, 25, 500);
    await sample(m2, "1 minute", 50, 50, 800);

    const o = await loadOverview(db);
    assertEquals(o.statuses, { discovered: 2, monitoring: 0, unreachable: 1, inactive: 0 });
    assertEquals([o.devices_total, o.monitors_enabled, o.polls_per_minute], [3, 3, 3]);
    assertEquals(o.failing_last_hour, 1);
    const top = (rows: { device_id: number; value: number }[]) =>
      rows.map((r) => [r.device_id, r.value]);
    assertEquals(top(o.top_cpu), [[device(m2), 50], [device(m1), 10]]);
    assertEquals(top(o.top_memory), [[device(m2), 50], [device(m1), 25]]);
    assertEquals(top(o.top_disk), [[device(m2), 80], [device(m1), 50]]);
    assertEquals(o.top_cpu[0].name, "WEB-2");
    assertEquals(o.errors.map((e) => [e.monitor_id, e.name, e.error]), [
      [m3, "127.0.90.3", "access denied"],
    ]);
    assertEquals(new Date(o.errors[0].at).toISOString(), o.errors[0].at);

    assertEquals((await loadMonitorRows(db)).map((r) => r.id), [m1, m2, m3]);
    const [row] = await loadMonitorRows(db, { deviceId: device(m2) });
    assertEquals(
      [row.id, row.device_name, row.plugin_name, row.enabled, row.last_error],
      [m2, "WEB-2", "windows-winrm", true, null],
    );
    assertEquals(typeof row.last_polled, "string");
    const failing = await loadMonitorRows(db, { failing: true });
    assertEquals(failing.map((r) => [r.id, r.last_error]), [[m3, "access denied"]]);
    assertEquals((await loadMonitorRows(db, { limit: 2 })).length, 2);

    // the monitors page: search, state, pages; attempts are visible without a success
    await db.query(
      `UPDATE monitors SET last_polled = NULL, last_attempted = now(),
         consecutive_failures = 4 WHERE id = $1`,
      [m3],
    );
    await db.query("UPDATE monitors SET enabled = false WHERE id = $1", [m1]);
    const page = (f: Parameters<typeof loadMonitorPage>[1], limit = 10, offset = 0) =>
      loadMonitorPage(db, f, { limit, offset });
    const ids = (p: { rows: { id: number }[]; total: number }) => [
      p.rows.map((r) => r.id),
      p.total,
    ];
    assertEquals(ids(await page({})), [[m1, m2, m3], 3]);
    assertEquals(ids(await page({}, 2, 2)), [[m3], 3]);
    assertEquals(ids(await page({}, 1, 1)), [[m2], 3]);
    assertEquals(ids(await page({ q: "web-2" })), [[m2], 1]);
    assertEquals(ids(await page({ q: "127.0.90.3" })), [[m3], 1]);
    assertEquals(ids(await page({ q: "DENIED" })), [[m3], 1]);
    assertEquals(ids(await page({ q: "winrm" })), [[m1, m2, m3], 3]);
    assertEquals(ids(await page({ q: "%" })), [[], 0]);
    assertEquals(ids(await page({ q: "_" })), [[], 0]);
    assertEquals(ids(await page({ q: "SEED" })), [[m1, m2, m3], 3], "credential profile name");
    assertEquals(ids(await page({ enabled: false })), [[m1], 1]);
    assertEquals(ids(await page({ enabled: true, failing: true })), [[m3], 1]);
    const [attempted] = (await page({ q: "127.0.90.3" })).rows;
    assertEquals(
      [attempted.last_polled, attempted.consecutive_failures, attempted.device_status],
      [null, 4, "unreachable"],
    );
    assertEquals(new Date(attempted.last_attempted!).toISOString(), attempted.last_attempted);
    assertEquals(attempted.device_ip, "127.0.90.3");

    assertEquals((await pickLists.credentials(db)).map((c) => c.name), ["seed"]);
    const plugins = await pickLists.plugins(db);
    const builtin = plugins.find((p) => p.name === "windows-winrm")!;
    assertEquals(await pickLists.builtinPluginId(db), builtin.id);
  },
);
