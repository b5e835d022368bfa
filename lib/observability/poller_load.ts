/**
 * The poller Workers' load against their capacity, summed from their reports. A leaf module of
 * plain data so that the dashboard's view types (lib/web/page_data.ts, islands/Overview.tsx)
 * can name it without importing the metrics scrape and, through it, the runtime.
 */
import type { PollerStats, SlowStats } from "../messages.ts";

/** The poller Workers' load against their capacity, and the due polls they shed. */
export interface PollerLoad {
  /** polls running and waiting over the polls that may run at once; above 1 polls wait */
  ratio: number;
  /**
   * the same, averaged over the Workers' last report interval (5 s): a scheduler slot's polls
   * fall due together, so `ratio` swings above 1 for a moment each second on a poller that
   * keeps up; above 1 on average, polls wait for good and the queue sheds
   */
  average: number;
  /** polls queued or running, integrated over time (poll-seconds; a counter) */
  loadSeconds: number;
  capacity: number;
  maxQueued: number;
  skipped: { busy: number; queue_full: number };
  /** the Workers' slow pools, summed (SlowStats, lib/messages.ts) */
  slow: Required<SlowStats>;
}

/**
 * Poller load against capacity, and the due polls shed rather than queued: by the Workers, and
 * by the main isolate before handing them over (`shed`, PipelineStats).
 */
export function pollerSaturation(
  pollers: PollerStats[],
  shed?: { busy: number; queue_full: number },
): PollerLoad {
  let load = 0, average = 0, loadMs = 0, capacity = 0, maxQueued = 0;
  let busy = shed?.busy ?? 0, queueFull = shed?.queue_full ?? 0;
  const slow = { hosts: 0, inFlight: 0, lane: 0, pool: 0, moved: 0, cutShort: 0 };
  for (const p of pollers) {
    slow.hosts += p.slow?.hosts ?? 0;
    slow.inFlight += p.slow?.inFlight ?? 0;
    slow.lane += p.slow?.lane ?? 0;
    slow.pool += p.slow?.pool ?? 0;
    slow.moved += p.slow?.moved ?? 0;
    slow.cutShort += p.slow?.cutShort ?? 0;
    load += p.load ?? p.inFlight + p.queued;
    average += p.loadAverage ?? p.load ?? p.inFlight + p.queued;
    loadMs += p.loadMs ?? 0;
    capacity += p.concurrency ?? 0;
    maxQueued += p.maxQueued ?? 0;
    busy += p.skipped?.busy ?? 0;
    queueFull += p.skipped?.queue_full ?? 0;
  }
  return {
    ratio: capacity > 0 ? load / capacity : 0,
    average: capacity > 0 ? average / capacity : 0,
    loadSeconds: loadMs / 1000,
    capacity,
    maxQueued,
    skipped: { busy, queue_full: queueFull },
    slow,
  };
}
