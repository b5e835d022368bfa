/**
 * Formatting shared by pages and islands (pure functions, no DOM).
 *
 * Times: `fmtUtc` is the unambiguous form (hover titles, no-script pages); `fmtLocal` is the
 * viewer's wall clock (the browser's time zone, or the one given); `fmtRelative` says how long
 * ago ("2 min ago"). components/Time.tsx puts them together in a <time> element.
 */
export function fmtPercent(v: number | null | undefined): string {
  return v === null || v === undefined ? "–" : `${v.toFixed(1)} %`;
}

export function fmtBytes(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtBps(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  const units = ["B/s", "KB/s", "MB/s", "GB/s"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

/** A time as the API or a repository gives it: ISO 8601 text, a Date, epoch ms, or nothing. */
export type TimeValue = string | Date | number | null | undefined;

function toDate(v: TimeValue): Date | null {
  if (v === null || v === undefined || v === "") return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "2026-11-28 05:09:56 UTC", or "never". */
export function fmtUtc(v: TimeValue): string {
  const d = toDate(v);
  if (!d) return "never";
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

/** The UTC form; kept under its first name for the modules that already use it. */
export const fmtTime = fmtUtc;

const localFormats = new Map<string, Intl.DateTimeFormat>();

/**
 * "2026-11-28 10:39:56" in the viewer's time zone (the runtime's default, i.e. the browser's;
 * or `timeZone`), 24-hour, without a zone name; or "never".
 */
export function fmtLocal(v: TimeValue, timeZone?: string): string {
  const d = toDate(v);
  if (!d) return "never";
  const key = timeZone ?? "";
  let f = localFormats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    localFormats.set(key, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(d)) p[part.type] = part.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/**
 * How far `v` is from `now`: "just now", "45 s ago", "2 min ago", "3 h ago", "5 d ago",
 * or "in 2 min" for the future; "never" without a time.
 */
export function fmtRelative(v: TimeValue, now: number = Date.now()): string {
  const d = toDate(v);
  if (!d) return "never";
  const diffS = Math.round((now - d.getTime()) / 1000);
  const s = Math.abs(diffS);
  if (s < 5) return "just now";
  const text = s < 60
    ? `${s} s`
    : s < 3600
    ? `${Math.floor(s / 60)} min`
    : s < 86_400
    ? `${Math.floor(s / 3600)} h`
    : `${Math.floor(s / 86_400)} d`;
  return diffS > 0 ? `${text} ago` : `in ${text}`;
}
