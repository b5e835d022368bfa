/**
 * What a monitor of the built-in Windows plugin collects: its collection profile and the
 * bounds of the bigger parts. Stored in `monitors.config`; an empty config is `standard`.
 *
 *   standard  CPU, memory, volumes, interfaces, process count (4 queries, the default)
 *   extended  + services, top processes, uptime, disk I/O, CPU per core, page file
 *   full      + the event log (errors and criticals of System and Application)
 */
import { z } from "zod";

export const COLLECTION_PROFILES = ["standard", "extended", "full"] as const;
export type CollectionProfile = typeof COLLECTION_PROFILES[number];

export const DEFAULT_TOP_PROCESSES = 10;
export const DEFAULT_MAX_EVENTS = 50;

export const MonitorConfig = z.object({
  profile: z.enum(COLLECTION_PROFILES).optional(),
  /** top N processes by CPU and by working set (extended, full) */
  top_processes: z.number().int().min(1).max(50).optional(),
  /** event log entries read per poll at most (full); the newest are kept */
  max_events: z.number().int().min(1).max(500).optional(),
}).strict();

export type MonitorConfig = z.infer<typeof MonitorConfig>;

export interface ResolvedCollection {
  profile: CollectionProfile;
  topProcesses: number;
  maxEvents: number;
}

export function resolveCollection(config: MonitorConfig | null | undefined): ResolvedCollection {
  return {
    profile: config?.profile ?? "standard",
    topProcesses: config?.top_processes ?? DEFAULT_TOP_PROCESSES,
    maxEvents: config?.max_events ?? DEFAULT_MAX_EVENTS,
  };
}

export function atLeast(p: CollectionProfile, min: CollectionProfile): boolean {
  return COLLECTION_PROFILES.indexOf(p) >= COLLECTION_PROFILES.indexOf(min);
}
