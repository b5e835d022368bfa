/**
 * Whether a device is in a maintenance window now: a one-off window from `starts_at` to
 * `ends_at`, or a weekly one on the given weekdays (0 = Sunday, UTC) from `start_minute` for
 * `duration_minutes` (it may run past midnight into the next day).
 */
import type { MaintenanceWindow } from "../db/alert_rules.ts";

const WEEK_MINUTES = 7 * 1440;

export function windowActive(w: MaintenanceWindow, now: number): boolean {
  if (w.kind === "once") {
    return !!w.starts_at && !!w.ends_at && new Date(w.starts_at).getTime() <= now &&
      now < new Date(w.ends_at).getTime();
  }
  if (!w.weekdays?.length || w.start_minute == null || !w.duration_minutes) return false;
  const d = new Date(now);
  const minuteOfWeek = d.getUTCDay() * 1440 + d.getUTCHours() * 60 + d.getUTCMinutes();
  return w.weekdays.some((day) => {
    const start = day * 1440 + w.start_minute!;
    return ((minuteOfWeek - start) % WEEK_MINUTES + WEEK_MINUTES) % WEEK_MINUTES <
      w.duration_minutes!;
  });
}

export function inMaintenance(
  windows: readonly MaintenanceWindow[],
  device: { id: number; tags: readonly string[] },
  now: number,
): boolean {
  return windows.some((w) =>
    (w.scope_kind === "all" ||
      (w.scope_kind === "device" && w.scope_device_id === device.id) ||
      (w.scope_kind === "tag" && device.tags.includes(w.scope_tag ?? ""))) &&
    windowActive(w, now)
  );
}
