/** The dashboard's time formatting: UTC, local in a given zone, relative. */
import { assertEquals } from "./helpers/assert.ts";
import { fmtLocal, fmtRelative, fmtTime, fmtUtc } from "../components/format.ts";
import { timeText } from "../components/Time.tsx";

const T = "2026-11-28T05:09:56.400Z";

Deno.test("fmtUtc and its old name fmtTime give the UTC time, or never", () => {
  assertEquals(fmtUtc(T), "2026-11-28 05:09:56 UTC");
  assertEquals(fmtTime(new Date(T)), "2026-11-28 05:09:56 UTC");
  assertEquals(fmtUtc(null), "never");
  assertEquals(fmtUtc("not a time"), "never");
});

Deno.test("fmtLocal renders the wall clock of a zone, across a date line", () => {
  assertEquals(fmtLocal(T, "Asia/Kolkata"), "2026-11-28 10:39:56");
  assertEquals(fmtLocal(T, "America/Los_Angeles"), "2026-11-27 21:09:56");
  assertEquals(fmtLocal(T, "UTC"), "2026-11-28 05:09:56");
  assertEquals(
    fmtLocal(Date.parse("2026-01-01T00:00:00Z"), "Pacific/Kiritimati"),
    "2026-01-01 14:00:00",
  );
  assertEquals(fmtLocal(undefined), "never");
});

Deno.test("fmtRelative says how long ago, or how far ahead", () => {
  const now = Date.parse(T);
  assertEquals(fmtRelative(now - 2_000, now), "just now");
  assertEquals(fmtRelative(now - 45_000, now), "45 s ago");
  assertEquals(fmtRelative(now - 150_000, now), "2 min ago");
  assertEquals(fmtRelative(now - 3 * 3600_000 - 5, now), "3 h ago");
  assertEquals(fmtRelative(now - 5 * 86_400_000, now), "5 d ago");
  assertEquals(fmtRelative(now + 120_000, now), "in 2 min");
  assertEquals(fmtRelative(null, now), "never");
});

Deno.test("a <Time> rendered on the server shows UTC with how long ago", () => {
  const now = Date.parse(T) + 120_000;
  assertEquals(timeText(T, false, now), "2026-11-28 05:09:56 UTC · 2 min ago");
  assertEquals(timeText(T, true, now), "2026-11-28 05:09:56 UTC");
});
