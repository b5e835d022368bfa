/**
 * Reads `metrics` for the API: the latest sample of a monitor and its history downsampled
 * with date_bin. Percentages are derived here from total/used (they are not stored).
 * Every query names one monitor and a lower time bound, so it walks the (monitor_id, ts)
 * primary key of the few partitions in range and never the whole table.
 */
import type { Queryable } from "../db/driver.ts";
import type { InterfaceSample, PhysicalDiskSample, VolumeSample } from "../messages.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** How far back from the monitor's last poll the latest sample is looked for, widening. */
export const LATEST_WINDOWS_MS = [HOUR_MS, DAY_MS, 8 * DAY_MS, 64 * DAY_MS, 400 * DAY_MS];
export const MAX_HISTORY_RANGE_MS = 400 * DAY_MS;

export interface MonitorRef {
  id: number;
  device_id: number;
  polling_interval: number;
  last_polled: Date | null;
}

interface LatestRow {
  ts: Date;
  cpu_percent: number | null;
  memory_total: number | null;
  memory_used: number | null;
  disk_total: number | null;
  disk_used: number | null;
  net_sent_bps: number | null;
  net_recv_bps: number | null;
  net_packets_sent: number | null;
  net_packets_recv: number | null;
  net_errors: number | null;
  net_discards: number | null;
  net_utilization: number | null;
  process_count: number | null;
  collection_ms: number | null;
  volumes: VolumeSample[] | null;
  interfaces: InterfaceSample[] | null;
  uptime_s: number | null;
  page_file_total: number | null;
  page_file_used: number | null;
  processor_queue: number | null;
  context_switches_ps: number | null;
  cpu_cores: { name: string; percent: number }[] | null;
  physical_disks: PhysicalDiskSample[] | null;
  partial: { part: string; class: string; reason: string }[] | null;
}

export interface LatestSample {
  ts: Date;
  cpu_percent: number | null;
  memory: Usage;
  disk: Usage;
  network: {
    sent_bps: number | null;
    recv_bps: number | null;
    packets_sent: number | null;
    packets_recv: number | null;
    errors: number | null;
    discards: number | null;
    utilization_percent: number | null;
  };
  process_count: number | null;
  collection_ms: number | null;
  volumes: (Usage & { name: string })[];
  interfaces: {
    name: string;
    sent_bps: number;
    recv_bps: number;
    packets_sent: number;
    packets_recv: number;
    errors: number;
    discards: number;
    bandwidth_bps: number | null;
    utilization_percent: number | null;
  }[];
  // extended and full collection profiles; null / empty on a standard poll
  uptime_s: number | null;
  page_file: Usage;
  processor_queue: number | null;
  context_switches_ps: number | null;
  cpu_cores: { name: string; percent: number }[];
  physical_disks: {
    name: string;
    reads_ps: number;
    writes_ps: number;
    read_bps: number;
    write_bps: number;
    queue: number;
    sec_per_transfer: number;
  }[];
  /** parts the host could not give at this poll */
  partial: { part: string; class: string; reason: string }[];
}

export interface Usage {
  total_bytes: number | null;
  used_bytes: number | null;
  percent: number | null;
}

export interface MonitorLatest {
  monitor_id: number;
  device_id: number;
  sample: LatestSample | null;
}

export async function getMonitorRef(db: Queryable, id: number): Promise<MonitorRef | null> {
  const [row] = await db.query<MonitorRef>(
    "SELECT id, device_id, polling_interval, last_polled FROM monitors WHERE id = $1",
    [id],
  );
  return row ?? null;
}

export async function listDeviceMonitorRefs(
  db: Queryable,
  deviceId: number,
): Promise<MonitorRef[]> {
  return await db.query<MonitorRef>(
    `SELECT id, device_id, polling_interval, last_polled FROM monitors
     WHERE device_id = $1 ORDER BY id`,
    [deviceId],
  );
}

export const LATEST_SQL = `SELECT ts, cpu_percent, memory_total, memory_used, disk_total, disk_used,
  net_sent_bps, net_recv_bps, net_packets_sent, net_packets_recv, net_errors, net_discards,
  net_utilization, process_count, collection_ms, volumes, interfaces, uptime_s, page_file_total,
  page_file_used, processor_queue, context_switches_ps, cpu_cores, physical_disks, partial
  FROM metrics WHERE monitor_id = $1 AND ts >= $2 ORDER BY ts DESC LIMIT 1`;

/**
 * The newest sample, searched backwards from the last successful poll (or now) in widening
 * windows: a polled monitor is answered from today's partition; one silent for long costs a
 * few more index probes; nothing older than the widest window is looked for.
 */
export async function latestSample(
  db: Queryable,
  m: MonitorRef,
  now = Date.now(),
): Promise<MonitorLatest> {
  const anchor = m.last_polled ? new Date(m.last_polled).getTime() : now;
  const first = Math.max(LATEST_WINDOWS_MS[0], 2 * m.polling_interval * 1000);
  const windows = [first, ...LATEST_WINDOWS_MS.filter((w) => w > first)];
  for (const w of windows) {
    const [row] = await db.query<LatestRow>(LATEST_SQL, [m.id, new Date(anchor - w)]);
    if (row) return { monitor_id: m.id, device_id: m.device_id, sample: toLatest(row) };
  }
  return { monitor_id: m.id, device_id: m.device_id, sample: null };
}

function toLatest(r: LatestRow): LatestSample {
  return {
    ts: r.ts,
    cpu_percent: r.cpu_percent,
    memory: usage(r.memory_total, r.memory_used),
    disk: usage(r.disk_total, r.disk_used),
    network: {
      sent_bps: r.net_sent_bps,
      recv_bps: r.net_recv_bps,
      packets_sent: r.net_packets_sent,
      packets_recv: r.net_packets_recv,
      errors: r.net_errors,
      discards: r.net_discards,
      utilization_percent: r.net_utilization ?? busiestInterface(r.interfaces),
    },
    process_count: r.process_count,
    collection_ms: r.collection_ms,
    volumes: (r.volumes ?? []).map((v) => ({ name: v.name, ...usage(v.total, v.used) })),
    interfaces: (r.interfaces ?? []).map((i) => ({
      name: i.name,
      sent_bps: i.sentBps,
      recv_bps: i.recvBps,
      packets_sent: i.packetsSent,
      packets_recv: i.packetsRecv,
      errors: i.errors,
      discards: i.discards,
      bandwidth_bps: i.bandwidthBps ?? null,
      utilization_percent: interfaceUtilization(i),
    })),
    uptime_s: r.uptime_s,
    page_file: usage(r.page_file_total, r.page_file_used),
    processor_queue: r.processor_queue,
    context_switches_ps: r.context_switches_ps,
    cpu_cores: r.cpu_cores ?? [],
    physical_disks: (r.physical_disks ?? []).map((d) => ({
      name: d.name,
      reads_ps: d.readsPs,
      writes_ps: d.writesPs,
      read_bps: d.readBps,
      write_bps: d.writeBps,
      queue: d.queue,
      sec_per_transfer: d.secPerTransfer,
    })),
    partial: r.partial ?? [],
  };
}

export function usage(total: number | null, used: number | null): Usage {
  return {
    total_bytes: total,
    used_bytes: used,
    percent: total && used != null ? round(used / total * 100) : null,
  };
}

/**
 * Stored utilization when the collector gave one; otherwise throughput against link speed,
 * the way Windows does it: bytes/s × 8 over CurrentBandwidth (bits/s).
 */
export function interfaceUtilization(i: InterfaceSample): number | null {
  if (i.utilization != null) return round(i.utilization);
  if (!i.bandwidthBps) return null;
  return round((i.sentBps + i.recvBps) * 8 / i.bandwidthBps * 100);
}

/** A host is as saturated as its busiest link, when the sample has no total figure. */
function busiestInterface(list: InterfaceSample[] | null): number | null {
  const values = (list ?? []).map(interfaceUtilization).filter((v): v is number => v != null);
  return values.length ? Math.max(...values) : null;
}

export const round = (v: number) => Math.round(v * 1000) / 1000;

// ---- history -----------------------------------------------------------------------------

/** Per-row values (percentages derived from total/used) that each bucket summarizes. */
const SERIES = {
  cpu_percent: "cpu_percent",
  memory_percent: "memory_used::float8 / nullif(memory_total, 0) * 100",
  disk_percent: "disk_used::float8 / nullif(disk_total, 0) * 100",
  net_sent_bps: "net_sent_bps",
  net_recv_bps: "net_recv_bps",
  net_utilization_percent: "net_utilization",
  process_count: "process_count",
  // extended and full collection profiles; null buckets on a standard monitor
  processor_queue: "processor_queue",
  context_switches_ps: "context_switches_ps",
  page_file_percent: "page_file_used::float8 / nullif(page_file_total, 0) * 100",
} as const;
export type SeriesName = keyof typeof SERIES;
const SERIES_NAMES = Object.keys(SERIES) as SeriesName[];

export interface Stat {
  min: number | null;
  avg: number | null;
  max: number | null;
}
export type HistoryPoint = { t: Date; samples: number } & Record<SeriesName, Stat>;

export type Breakdown = "volumes" | "interfaces" | "physical_disks" | "cpu_cores";
export const BREAKDOWNS: Breakdown[] = ["volumes", "interfaces", "physical_disks", "cpu_cores"];
export interface BreakdownSeries {
  name: string;
  /** t plus the averages of BREAKDOWN_SQL[kind].values */
  points: { t: Date; [value: string]: Date | number | null }[];
}

export interface History {
  monitor_id: number;
  from: Date;
  to: Date;
  bucket_seconds: number;
  points: HistoryPoint[];
  breakdown: { kind: Breakdown; series: BreakdownSeries[] } | null;
}

/** Whole seconds, at least one, so that [from, to) fits in at most `points` buckets. */
export function bucketSeconds(from: Date, to: Date, points: number): number {
  return Math.max(1, Math.ceil((to.getTime() - from.getTime()) / 1000 / points));
}

export const HISTORY_SQL =
  `SELECT date_bin($4::interval, ts, $2::timestamptz) AS t, count(*)::int AS samples,
  ${
    SERIES_NAMES.map((n) => `min(${n}) AS ${n}_min, avg(${n}) AS ${n}_avg, max(${n}) AS ${n}_max`)
      .join(",\n  ")
  }
  FROM (SELECT ts, ${SERIES_NAMES.map((n) => `${SERIES[n]} AS ${n}`).join(", ")}
        FROM metrics WHERE monitor_id = $1 AND ts >= $2 AND ts < $3) s
  GROUP BY 1 ORDER BY 1`;

/** Values per breakdown element; stored keys are MetricSample's VolumeSample/InterfaceSample. */
const BREAKDOWN_SQL: Record<Breakdown, { column: string; values: Record<string, string> }> = {
  volumes: {
    column: "volumes",
    values: {
      percent: "(e->>'used')::float8 / nullif((e->>'total')::float8, 0) * 100",
    },
  },
  interfaces: {
    column: "interfaces",
    values: {
      sent_bps: "(e->>'sentBps')::float8",
      recv_bps: "(e->>'recvBps')::float8",
      utilization_percent: `coalesce((e->>'utilization')::float8, ((e->>'sentBps')::float8 +
        (e->>'recvBps')::float8) * 8 / nullif((e->>'bandwidthBps')::float8, 0) * 100)`,
    },
  },
  // extended and full collection profiles (PhysicalDiskSample, cpu_cores of MetricSample)
  physical_disks: {
    column: "physical_disks",
    values: {
      reads_ps: "(e->>'readsPs')::float8",
      writes_ps: "(e->>'writesPs')::float8",
      read_bps: "(e->>'readBps')::float8",
      write_bps: "(e->>'writeBps')::float8",
      queue: "(e->>'queue')::float8",
      sec_per_transfer: "(e->>'secPerTransfer')::float8",
    },
  },
  cpu_cores: {
    column: "cpu_cores",
    values: { percent: "(e->>'percent')::float8" },
  },
};

function breakdownSql(kind: Breakdown): string {
  const { column, values } = BREAKDOWN_SQL[kind];
  const avgs = Object.entries(values).map(([k, expr]) => `avg(${expr}) AS ${k}`).join(", ");
  return `SELECT date_bin($4::interval, m.ts, $2::timestamptz) AS t, e->>'name' AS name, ${avgs}
    FROM metrics m CROSS JOIN LATERAL jsonb_array_elements(m.${column}) e
    WHERE m.monitor_id = $1 AND m.ts >= $2 AND m.ts < $3 AND jsonb_typeof(m.${column}) = 'array'
    GROUP BY 1, 2 ORDER BY 2, 1`;
}

/** Samples in [from, to) summarized per date_bin bucket; empty buckets are left out. */
export async function history(
  db: Queryable,
  monitorId: number,
  opts: { from: Date; to: Date; points: number; breakdown?: Breakdown },
): Promise<History> {
  const seconds = bucketSeconds(opts.from, opts.to, opts.points);
  const params = [monitorId, opts.from, opts.to, `${seconds} seconds`];
  const rows = await db.query<Record<string, number | null> & { t: Date; samples: number }>(
    HISTORY_SQL,
    params,
  );
  const points = rows.map((r) => {
    const p = { t: r.t, samples: r.samples } as HistoryPoint;
    for (const n of SERIES_NAMES) {
      p[n] = { min: num(r[`${n}_min`]), avg: num(r[`${n}_avg`]), max: num(r[`${n}_max`]) };
    }
    return p;
  });
  let breakdown: History["breakdown"] = null;
  if (opts.breakdown) {
    const kind = opts.breakdown;
    const keys = Object.keys(BREAKDOWN_SQL[kind].values);
    const bRows = await db.query<Record<string, unknown>>(breakdownSql(kind), params);
    const byName = new Map<string, BreakdownSeries>();
    for (const r of bRows) {
      const name = String(r.name);
      let s = byName.get(name);
      if (!s) byName.set(name, s = { name, points: [] });
      const point: BreakdownSeries["points"][number] = { t: r.t as Date };
      for (const k of keys) point[k] = num(r[k] as number | null);
      s.points.push(point);
    }
    breakdown = { kind, series: [...byName.values()] };
  }
  return {
    monitor_id: monitorId,
    from: opts.from,
    to: opts.to,
    bucket_seconds: seconds,
    points,
    breakdown,
  };
}

// min/max of real columns arrive as numbers, avg of integers as numeric text on some drivers.
const num = (v: number | string | null | undefined) => v == null ? null : round(Number(v));
