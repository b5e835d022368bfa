/**
 * CPU, memory, disk and network of one monitor over 1 h / 24 h / 7 d / 30 d from the
 * downsampled history (min–max band around the average), plus per-volume and per-interface
 * averages; re-fetched while the page is open. Chart.js is imported piece by piece; the axes'
 * ticks and labels come from lib/web/chart_ticks.ts (local time, no repeated labels).
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import {
  Chart,
  type ChartDataset,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { api, errorText } from "./api.ts";
import { fmtBps } from "../components/format.ts";
import {
  pointTime,
  timeLabel,
  timeTicks,
  type ValueAxis,
  valueAxis,
} from "../lib/web/chart_ticks.ts";

Chart.register(LineController, LineElement, PointElement, LinearScale, Filler, Tooltip, Legend);

const RANGES = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000 };
type Range = keyof typeof RANGES;
const REFRESH_MS: Record<Range, number> = {
  "1h": 15_000,
  "24h": 60_000,
  "7d": 300_000,
  "30d": 300_000,
};
const COLORS = ["#2f7ed8", "#e4572e", "#29a35a", "#a05ad6", "#d6a21e", "#17a2b8"];

interface Stat {
  min: number | null;
  avg: number | null;
  max: number | null;
}
type Point = { t: string } & Record<string, Stat>;
interface Series {
  name: string;
  points: Record<string, string | number | null>[];
}
interface History {
  from: string;
  to: string;
  points: Point[];
  breakdown: { kind: string; series: Series[] } | null;
}
type XY = { x: number; y: number | null };
type Line = ChartDataset<"line", XY[]>;

/** Sparse series get dots, or a single sample would draw nothing. */
const dots = (n: number) => n < 60 ? 2 : 0;

function band(points: Point[], key: string, label: string, color: string): Line[] {
  const at = (p: Point, k: "min" | "avg" | "max") => ({
    x: Date.parse(p.t),
    y: p[key]?.[k] ?? null,
  });
  return [
    {
      label: `${label} max`,
      data: points.map((p) => at(p, "max")),
      borderWidth: 0,
      pointRadius: 0,
      fill: "+1",
      backgroundColor: `${color}33`,
    },
    {
      label: `${label} min`,
      data: points.map((p) => at(p, "min")),
      borderWidth: 0,
      pointRadius: 0,
      fill: false,
    },
    {
      label: `${label} avg`,
      data: points.map((p) => at(p, "avg")),
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      pointRadius: dots(points.length),
      fill: false,
    },
  ];
}

function lines(series: Series[], key: string, suffix = "", scale = 1): Line[] {
  return series.map((s, i) => ({
    label: `${s.name}${suffix}`,
    data: s.points.map((p) => {
      const v = p[key] as number | null;
      return { x: Date.parse(String(p.t)), y: v === null || v === undefined ? null : v * scale };
    }),
    borderColor: COLORS[i % COLORS.length],
    backgroundColor: COLORS[i % COLORS.length],
    borderWidth: 2,
    pointRadius: dots(s.points.length),
    fill: false,
  }));
}

/** The largest y value the chart shows, or null when it shows none. */
function dataMax(chart: Chart): number | null {
  let max: number | null = null;
  for (const ds of chart.data.datasets) {
    for (const p of ds.data as XY[]) if (p.y !== null && (max === null || p.y > max)) max = p.y;
  }
  return max;
}

function makeChart(
  canvas: HTMLCanvasElement,
  percent: boolean,
  bytes: boolean,
  span: () => number,
  ms = false,
): Chart<"line", XY[]> {
  const fg = getComputedStyle(document.body).getPropertyValue("--fg").trim() || "#222";
  const grid = getComputedStyle(document.body).getPropertyValue("--line").trim() || "#ddd";
  const kind = percent ? "percent" : ms ? "ms" : "bps";
  let y: ValueAxis = valueAxis(null, kind);
  const value = (v: number) =>
    bytes
      ? fmtBps(v)
      : percent
      ? `${v.toFixed(1)} %`
      : ms
      ? `${v < 10 ? v.toFixed(2) : v.toFixed(0)} ms`
      : String(v);
  return new Chart<"line", XY[]>(canvas, {
    type: "line",
    data: { datasets: [] },
    options: {
      animation: false,
      parsing: false,
      responsive: true,
      maintainAspectRatio: false,
      spanGaps: false,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      color: fg,
      scales: {
        x: {
          type: "linear",
          grid: { color: grid },
          afterBuildTicks: (axis) => {
            axis.ticks = timeTicks(axis.min, axis.max).map((v) => ({ value: v }));
          },
          ticks: { color: fg, maxRotation: 0, callback: (v) => timeLabel(Number(v), span()) },
        },
        y: {
          type: "linear",
          afterDataLimits: (axis) => {
            y = valueAxis(percent ? null : dataMax(axis.chart), kind);
            axis.min = 0;
            axis.max = y.max;
          },
          afterBuildTicks: (axis) => {
            axis.ticks = y.ticks.map((v) => ({ value: v }));
          },
          grid: { color: grid },
          ticks: {
            color: fg,
            callback: (v) => y.labels[y.ticks.indexOf(Number(v))] ?? "",
          },
        },
      },
      plugins: {
        legend: { labels: { color: fg, filter: (item) => !/ (min|max)$/.test(item.text) } },
        tooltip: {
          callbacks: {
            title: (items) => items.length ? pointTime(items[0].parsed.x ?? 0) : "",
            label: (item) =>
              `${item.dataset.label}: ${item.parsed.y === null ? "–" : value(item.parsed.y)}`,
          },
        },
      },
    },
  });
}

const CHARTS = [
  { id: "cpu", title: "CPU", percent: true, bytes: false },
  { id: "memory", title: "Memory", percent: true, bytes: false },
  { id: "disk", title: "Disk", percent: true, bytes: false },
  { id: "network", title: "Network", percent: false, bytes: true },
  { id: "volumes", title: "Volumes (used %)", percent: true, bytes: false },
  { id: "interfaces", title: "Interfaces (received)", percent: false, bytes: true },
  // the extended and full collection profiles
  { id: "diskio", title: "Disk I/O (read / write per disk)", percent: false, bytes: true },
  { id: "latency", title: "Disk latency (per transfer)", percent: false, bytes: false, ms: true },
  { id: "cores", title: "CPU per core", percent: true, bytes: false },
] as const;
type ChartId = typeof CHARTS[number]["id"];
const DEPTH_CHARTS: ChartId[] = ["diskio", "latency", "cores"];

export default function DeviceCharts(
  { monitors }: { monitors: { id: number; label: string; depth?: boolean }[] },
) {
  const monitorId = useSignal(monitors[0]?.id ?? 0);
  const range = useSignal<Range>("1h");
  const error = useSignal<string | null>(null);
  const points = useSignal(-1);
  const canvases = useRef<Partial<Record<ChartId, HTMLCanvasElement | null>>>({});
  const charts = useRef<Partial<Record<ChartId, Chart<"line", XY[]>>>>({});
  const span = useRef(RANGES["1h"]);

  useEffect(() => {
    for (const c of CHARTS) {
      const el = canvases.current[c.id];
      if (el) {
        charts.current[c.id] = makeChart(el, c.percent, c.bytes, () => span.current, "ms" in c);
      }
    }
    return () => Object.values(charts.current).forEach((ch) => ch?.destroy());
  }, []);

  useEffect(() => {
    // no monitor, no history to ask for (monitor 0 would be a 400 on every refresh)
    if (monitors.length === 0) return;
    let stopped = false;
    const load = async () => {
      const spanMs = span.current = RANGES[range.value];
      const to = new Date();
      const from = new Date(to.getTime() - spanMs);
      const qs = `from=${from.toISOString()}&to=${to.toISOString()}&points=240`;
      const base = `/monitors/${monitorId.value}/metrics/history?${qs}`;
      try {
        const depth = monitors.find((m) => m.id === monitorId.value)?.depth ?? false;
        const none: History = { from: "", to: "", points: [], breakdown: null };
        const [vol, net, disks, cores] = await Promise.all([
          api<History>("GET", `${base}&breakdown=volumes`),
          api<History>("GET", `${base}&breakdown=interfaces`),
          depth ? api<History>("GET", `${base}&breakdown=physical_disks`) : none,
          depth ? api<History>("GET", `${base}&breakdown=cpu_cores`) : none,
        ]);
        if (stopped) return;
        const data: Record<ChartId, Line[]> = {
          cpu: band(vol.points, "cpu_percent", "CPU", COLORS[0]),
          memory: band(vol.points, "memory_percent", "Memory", COLORS[2]),
          disk: band(vol.points, "disk_percent", "Disk", COLORS[3]),
          network: [
            ...band(vol.points, "net_recv_bps", "Received", COLORS[0]),
            ...band(vol.points, "net_sent_bps", "Sent", COLORS[1]),
          ],
          volumes: lines(vol.breakdown?.series ?? [], "percent"),
          interfaces: lines(net.breakdown?.series ?? [], "recv_bps"),
          diskio: [
            ...lines(disks.breakdown?.series ?? [], "read_bps", " read"),
            ...lines(disks.breakdown?.series ?? [], "write_bps", " write"),
          ],
          latency: lines(disks.breakdown?.series ?? [], "sec_per_transfer", "", 1000),
          cores: lines(cores.breakdown?.series ?? [], "percent"),
        };
        for (const c of CHARTS) {
          const ch = charts.current[c.id];
          if (!ch) continue;
          ch.data.datasets = data[c.id];
          const x = ch.options.scales!.x!;
          x.min = from.getTime();
          x.max = to.getTime();
          ch.update("none");
        }
        points.value = vol.points.length;
        error.value = null;
      } catch (err) {
        if (!stopped) error.value = `Could not load the history: ${errorText(err)}`;
      }
    };
    load();
    const timer = setInterval(load, REFRESH_MS[range.value]);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [range.value, monitorId.value]);

  if (monitors.length === 0) {
    return <p class="muted">Charts appear once the device has a monitor.</p>;
  }
  return (
    <section class="charts" data-points={points.value} aria-label="Metrics charts">
      <div class="toolbar">
        <div role="group" aria-label="Time range" class="seg">
          {(Object.keys(RANGES) as Range[]).map((r) => (
            <button
              key={r}
              type="button"
              aria-pressed={range.value === r}
              onClick={() => range.value = r}
            >
              {r}
            </button>
          ))}
        </div>
        {monitors.length > 1 && (
          <label>
            Monitor{" "}
            <select
              value={monitorId.value}
              onChange={(e) => monitorId.value = Number(e.currentTarget.value)}
            >
              {monitors.map((m) => <option key={m.id} value={m.id}>{m.label}</option>)}
            </select>
          </label>
        )}
        <span class="muted small" aria-live="polite">
          {points.value < 0
            ? "Loading…"
            : points.value === 0
            ? "No samples in this range yet."
            : `${points.value} point${points.value === 1 ? "" : "s"}`}
        </span>
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      <div class="chart-grid">
        {CHARTS.filter((c) => !DEPTH_CHARTS.includes(c.id) || monitors.some((m) => m.depth)).map((
          c,
        ) => (
          <figure key={c.id} class="chart card">
            <figcaption>{c.title}</figcaption>
            <div class="canvas-box">
              <canvas
                id={`chart-${c.id}`}
                ref={(el) => {
                  canvases.current[c.id] = el;
                }}
                role="img"
                aria-label={`${c.title} chart`}
              />
            </div>
          </figure>
        ))}
      </div>
    </section>
  );
}
