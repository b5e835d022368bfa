/**
 * A point in time as the dashboard shows it: the viewer's local time and how long ago
 * ("2026-11-28 10:39:56 · 2 min ago"), the UTC time on hover (title) and in `datetime`.
 *
 * The server does not know the browser's time zone, so it renders the UTC time (still with
 * "ago"); in the browser the text becomes local: inside an island at hydration, elsewhere
 * through the LocalTimes island, which also keeps "ago" current. Both use `timeText`, so the
 * two never disagree.
 */
import { fmtLocal, fmtRelative, fmtUtc, type TimeValue } from "./format.ts";

const inBrowser = typeof document !== "undefined";

/** The text of a <Time>: local (in a browser) or UTC (on the server), with "ago" unless `plain`. */
export function timeText(v: TimeValue, plain = false, now: number = Date.now()): string {
  const abs = inBrowser ? fmtLocal(v) : fmtUtc(v);
  return plain ? abs : `${abs} · ${fmtRelative(v, now)}`;
}

export function Time(
  { value, plain = false, never = "never" }: {
    value: TimeValue;
    /** without the relative part */
    plain?: boolean;
    /** what to show when there is no time */
    never?: string;
  },
) {
  const d = value === null || value === undefined || value === "" ? null : new Date(value);
  if (!d || Number.isNaN(d.getTime())) return <span class="muted">{never}</span>;
  return (
    <time
      datetime={d.toISOString()}
      title={fmtUtc(d)}
      data-local={plain ? "plain" : "ago"}
    >
      {timeText(d, plain)}
    </time>
  );
}
