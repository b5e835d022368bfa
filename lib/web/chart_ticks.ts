/**
 * Axis ticks for the device charts, computed here rather than by Chart.js: values on a 1-2-5
 * grid labelled so no two read the same (an empty chart used to say "1 B/s, 1 B/s, 0 B/s"),
 * and times on regular boundaries of the browser's local clock (every 3 h on the hour over
 * 24 h, midnights over 7 d, Mondays over 30 d). Pure functions: the islands' bundle includes
 * this file and the tests call it.
 */

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

export type ValueKind = "percent" | "bps" | "ms";

export interface ValueAxis {
  max: number;
  ticks: number[];
  labels: string[];
}

/** The 1-2-5 step nearest above `rough` (0.2, 0.5, 1, 2, 5, 10, 20…). */
export function niceStep(rough: number): number {
  if (!(rough > 0) || !Number.isFinite(rough)) return 1;
  const power = 10 ** Math.floor(Math.log10(rough));
  const f = rough / power;
  const nice = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
  return nice * power;
}

const RATE_UNITS = [
  { scale: 1e9, name: "GB/s" },
  { scale: 1e6, name: "MB/s" },
  { scale: 1e3, name: "KB/s" },
  { scale: 1, name: "B/s" },
];

/**
 * The y axis for data whose largest value is `dataMax` (null or 0 when there is none):
 * percentages always span 0–100; rates span at least 0–1 KB/s, in one unit with as many
 * decimals as the step needs.
 */
export function valueAxis(dataMax: number | null, kind: ValueKind, target = 5): ValueAxis {
  if (kind === "percent") {
    const ticks = [0, 20, 40, 60, 80, 100];
    return { max: 100, ticks, labels: ticks.map((t) => `${t} %`) };
  }
  const top = dataMax !== null && dataMax > 0 && Number.isFinite(dataMax) ? dataMax : 1_000;
  const step = niceStep(top / target);
  const count = Math.max(1, Math.ceil(top / step - 1e-9));
  const ticks = Array.from({ length: count + 1 }, (_, i) => roundTo(i * step, step));
  const max = ticks[ticks.length - 1];
  if (kind === "ms") {
    const decimals = Math.min(3, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
    return { max, ticks, labels: ticks.map((t) => t === 0 ? "0" : `${t.toFixed(decimals)} ms`) };
  }
  const unit = RATE_UNITS.find((u) => max / u.scale >= 1) ?? RATE_UNITS[RATE_UNITS.length - 1];
  const decimals = Math.min(3, Math.max(0, Math.ceil(-Math.log10(step / unit.scale) - 1e-9)));
  const labels = ticks.map((t) =>
    t === 0 ? "0" : `${(t / unit.scale).toFixed(decimals)} ${unit.name}`
  );
  return { max, ticks, labels };
}

/** Removes float noise (0.30000000000000004) at the step's precision. */
function roundTo(v: number, step: number): number {
  const digits = Math.max(0, -Math.floor(Math.log10(step)) + 2);
  return Number(v.toFixed(Math.min(20, digits)));
}

export type TimeStep =
  | { unit: "minute"; every: number }
  | { unit: "hour"; every: number }
  | { unit: "day"; every: 1 }
  | { unit: "week"; every: 1 };

/** About 4–9 ticks over the span, on boundaries a person reads easily. */
export function timeStep(spanMs: number): TimeStep {
  if (spanMs <= 2 * HOUR) return { unit: "minute", every: spanMs <= 30 * MINUTE ? 5 : 10 };
  if (spanMs <= 8 * HOUR) return { unit: "hour", every: 1 };
  if (spanMs <= 16 * HOUR) return { unit: "hour", every: 2 };
  if (spanMs <= 36 * HOUR) return { unit: "hour", every: 3 };
  if (spanMs <= 10 * DAY) return { unit: "day", every: 1 };
  return { unit: "week", every: 1 };
}

/** The first boundary at or after `t` in local time. */
function firstBoundary(t: number, step: TimeStep): Date {
  const d = new Date(t);
  d.setSeconds(0, 0);
  if (step.unit === "minute") {
    d.setMinutes(Math.floor(d.getMinutes() / step.every) * step.every);
  } else if (step.unit === "hour") {
    d.setMinutes(0);
    d.setHours(Math.floor(d.getHours() / step.every) * step.every);
  } else {
    d.setHours(0, 0);
    if (step.unit === "week") d.setDate(d.getDate() - ((d.getDay() + 6) % 7)); // back to Monday
  }
  while (d.getTime() < t) advance(d, step);
  return d;
}

/** Steps in local wall-clock time, so a DST change keeps ticks on the hour. */
function advance(d: Date, step: TimeStep): void {
  if (step.unit === "minute") d.setMinutes(d.getMinutes() + step.every);
  else if (step.unit === "hour") {
    const before = d.getHours();
    d.setHours(before + step.every);
    // a day with a DST jump: realign to the grid (02:00 that does not exist becomes 03:00)
    if (d.getHours() % step.every !== 0 && d.getMinutes() === 0) {
      d.setHours(Math.ceil(d.getHours() / step.every) * step.every);
    }
  } else d.setDate(d.getDate() + (step.unit === "week" ? 7 : 1));
}

/** Tick times (ms) between `from` and `to`, inclusive, on local boundaries. */
export function timeTicks(from: number, to: number): number[] {
  const step = timeStep(to - from);
  const out: number[] = [];
  for (const d = firstBoundary(from, step); d.getTime() <= to; advance(d, step)) {
    out.push(d.getTime());
    if (out.length > 200) break;
  }
  return out;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const pad = (n: number) => String(n).padStart(2, "0");

/** A tick's label in local time: "15:00"; a midnight within a day's view reads "Sat 28". */
export function timeLabel(t: number, spanMs: number): string {
  const d = new Date(t);
  const step = timeStep(spanMs);
  const day = `${WEEKDAYS[d.getDay()]} ${d.getDate()}`;
  if (step.unit === "week") return `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  if (step.unit === "day") return day;
  if (d.getHours() === 0 && d.getMinutes() === 0 && step.unit === "hour") return day;
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The tooltip's time: local "Sat 28 Nov 14:05". */
export function pointTime(t: number): string {
  const d = new Date(t);
  return `${WEEKDAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${pad(d.getHours())}:${
    pad(d.getMinutes())
  }`;
}
