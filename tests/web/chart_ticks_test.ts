/**
 * The device charts' axes: no two value labels alike (empty, flat, tiny and large data), and
 * time ticks on regular local boundaries. The local-time cases also run in a child process
 * with TZ=Asia/Kolkata (UTC+05:30), where "on the hour" differs from UTC's.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  DAY,
  HOUR,
  MINUTE,
  niceStep,
  timeLabel,
  timeTicks,
  valueAxis,
} from "../../lib/web/chart_ticks.ts";

const distinct = (labels: string[]) => new Set(labels).size === labels.length;

Deno.test("rate axes never repeat a label", () => {
  for (const max of [null, 0, 0.2, 1, 3, 999, 1_000, 1_001, 12_345, 999_999, 2.5e6, 7.7e9]) {
    const axis = valueAxis(max, "bps");
    assert(distinct(axis.labels), `${max}: ${axis.labels.join(", ")}`);
    assert(axis.ticks.length >= 2 && axis.ticks.length <= 11, `${max}: ${axis.ticks.length}`);
    assertEquals(axis.ticks[0], 0);
    assert(axis.max >= (max ?? 0), `${max} fits under ${axis.max}`);
    for (let i = 1; i < axis.ticks.length; i++) {
      assert(axis.ticks[i] > axis.ticks[i - 1], "ascending");
    }
  }
  // no data: a sensible empty scale instead of 0–1 B/s
  assertEquals(valueAxis(null, "bps").labels, [
    "0",
    "0.2 KB/s",
    "0.4 KB/s",
    "0.6 KB/s",
    "0.8 KB/s",
    "1.0 KB/s",
  ]);
  assertEquals(valueAxis(0, "bps").labels, valueAxis(null, "bps").labels, "flat at zero");
  assertEquals(valueAxis(2.5e6, "bps").labels.at(-1), "2.5 MB/s");
  assertEquals(valueAxis(null, "percent").labels, ["0 %", "20 %", "40 %", "60 %", "80 %", "100 %"]);
  assertEquals(valueAxis(7.3, "ms").labels, ["0", "2 ms", "4 ms", "6 ms", "8 ms"]);
  assertEquals(valueAxis(0.42, "ms").labels.at(-1), "0.5 ms");
  assertEquals([niceStep(0.3), niceStep(3), niceStep(7), niceStep(120)], [0.5, 5, 10, 200]);
});

function checkLocalGrid(): string[] {
  const problems: string[] = [];
  // many "now"s, including odd minutes and seconds
  for (let k = 0; k < 200; k++) {
    const to = Date.UTC(2026, 0, 1) + k * 7_919_777;
    const day = timeTicks(to - DAY, to);
    if (day.length < 7 || day.length > 9) problems.push(`24h: ${day.length} ticks`);
    for (const t of day) {
      const d = new Date(t);
      if (d.getMinutes() || d.getSeconds() || d.getHours() % 3) {
        problems.push(`24h tick at ${d.toString()}`);
      }
    }
    for (let i = 1; i < day.length; i++) {
      // regular: 3 h apart (DST days aside, which these dates avoid)
      if (day[i] - day[i - 1] !== 3 * HOUR) problems.push(`24h gap ${day[i] - day[i - 1]}`);
    }
    const hour = timeTicks(to - HOUR, to);
    for (const t of hour) if (new Date(t).getMinutes() % 10) problems.push("1h tick off 10 min");
    if (hour.length < 6 || hour.length > 7) problems.push(`1h: ${hour.length}`);
    const week = timeTicks(to - 7 * DAY, to);
    for (const t of week) {
      const d = new Date(t);
      if (d.getHours() || d.getMinutes()) problems.push("7d tick not at midnight");
    }
    const month = timeTicks(to - 30 * DAY, to);
    for (const t of month) if (new Date(t).getDay() !== 1) problems.push("30d tick not Monday");
    if (month.length < 4 || month.length > 5) problems.push(`30d: ${month.length}`);
    for (const span of [HOUR, DAY, 7 * DAY, 30 * DAY]) {
      const labels = timeTicks(to - span, to).map((t) => timeLabel(t, span));
      if (!distinct(labels)) problems.push(`labels repeat: ${labels.join(", ")}`);
    }
  }
  return problems;
}

Deno.test("time ticks sit on regular local boundaries", () => {
  assertEquals(checkLocalGrid(), []);
  const to = new Date(2026, 10, 28, 14, 7, 31).getTime(); // local 14:07:31
  assertEquals(
    timeTicks(to - DAY, to).map((t) => timeLabel(t, DAY)),
    ["15:00", "18:00", "21:00", "Sat 28", "03:00", "06:00", "09:00", "12:00"],
  );
  assertEquals(timeLabel(new Date(2026, 10, 28, 14, 10).getTime(), HOUR), "14:10");
  assertEquals(timeTicks(to - 10 * MINUTE, to).length, 2);
});

Deno.test({
  name: "time ticks in a UTC+05:30 zone",
  ignore: Deno.env.get("TZ") === "Asia/Kolkata",
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--filter", "regular local boundaries", import.meta.filename!],
      env: { TZ: "Asia/Kolkata", NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert(out.success && /1 passed/.test(text), text);
  },
});
