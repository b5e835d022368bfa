/**
 * Between the islands of one page: a window event that announces fresh monitor state (a
 * device's "Poll now" sends it, the monitors table merges it). Its detail is the API's
 * monitors, by id.
 */
import type { MonitorRow } from "../lib/web/page_data.ts";

export const MONITORS_CHANGED = "nmslite:monitors-changed";

export type MonitorsChanged = CustomEvent<Partial<MonitorRow>[]>;

export function announceMonitors(monitors: Partial<MonitorRow>[]): void {
  dispatchEvent(new CustomEvent(MONITORS_CHANGED, { detail: monitors }));
}
