/**
 * Which monitors are due, and when each fires next. Pure logic over an injectable clock: the
 * Worker in workers/scheduler.ts only feeds it commands and arms one timer at `delayMs()`.
 *
 * Timing rules:
 * - Every monitor sits on its own grid `phase + k * interval` (epoch ms). The phase comes from
 *   the monitor id (Fibonacci hashing), so first deadlines are spread over the interval and
 *   stay the same across restarts; consecutive ids land almost evenly apart. Phases are
 *   quantised to PHASE_RESOLUTION_MS so that due monitors come in batches.
 * - After a fire the next deadline is the previous one plus the interval (no drift). When that
 *   is already past (the loop was blocked), the monitor runs once now and moves to its first
 *   grid slot after now; the deadlines it passed over are counted in `skipped`. Keeping the
 *   grid (rather than now + interval) stops a stall from lining every monitor up together.
 * - A wall clock that jumps back pulls deadlines more than one interval ahead back onto the grid.
 */
import type { PollJob, ScheduledMonitor, SchedulerStats } from "../messages.ts";
import { IndexedMinHeap } from "./min_heap.ts";

export interface MonitorSchedulerOptions {
  /** epoch ms; Date.now by default, a virtual clock in tests */
  now?: () => number;
  /** how many recent fires the lag percentiles cover */
  lagWindow?: number;
  /** longest timer the caller should arm, so a jumped clock is noticed within it */
  maxDelayMs?: number;
  /** a clock step back larger than this makes the scheduler re-place its deadlines */
  backwardJumpToleranceMs?: number;
}

interface Entry {
  monitor: ScheduledMonitor;
  intervalMs: number;
}

const DEFAULT_LAG_WINDOW = 4096;
const DEFAULT_MAX_DELAY_MS = 1000;
const DEFAULT_BACKWARD_JUMP_TOLERANCE_MS = 1000;

/** Interval in whole ms, at least 1 (sub-second intervals are allowed for tests). */
export function intervalMsOf(monitor: ScheduledMonitor): number {
  const s = monitor.intervalS;
  if (typeof s !== "number" || !Number.isFinite(s) || s <= 0) {
    throw new RangeError(`monitor ${monitor.monitorId}: intervalS must be > 0, got ${s}`);
  }
  return Math.max(1, Math.round(s * 1000));
}

/**
 * Phases are whole multiples of this, so monitors sharing a slot fire in one batch and the
 * worker wakes at most once a second however many monitors there are. Polls that start
 * together are cheaper than the same polls spread out: each wake-up of a poller thread (and of
 * the hosts' side) costs CPU of its own, and a burst finds the code and data still in cache.
 * bench:fleet at 10,000 hosts (60 s, 167 polls/s), four runs each: 1.00 ms of NMSlite CPU a
 * poll with 100 ms slots, 0.80 ms with 500 ms (simulator 1.00 and 0.90 ms, the same runs); on
 * 2026-11-30's faster box (`--duration 120`), 0.33 ms with 500 ms and 0.31 with 1,000 (each
 * poller Worker 0.099 -> 0.093, main 0.055 -> 0.048, poll-to-row p99 0.75 s in both).
 * Slots no longer than a second keep a slot's polls within what the poller Workers may hold
 * (lib/polling/poller.ts defaultMaxQueued): 100,000 hosts at 60 s put 1,667 polls in a slot,
 * 833 per Worker of the 1,000 each may hold at the default concurrency.
 */
export const PHASE_RESOLUTION_MS = 1000;

/**
 * Offset of the monitor's deadlines within its interval, in [0, intervalMs). Multiplying by
 * 2^32/phi spreads consecutive ids (the usual case: a database sequence) nearly evenly.
 */
export function phaseOffsetMs(monitorId: number, intervalMs: number): number {
  const hash = Math.imul(monitorId | 0, 0x9e3779b9) >>> 0;
  const slots = Math.max(1, Math.floor(intervalMs / PHASE_RESOLUTION_MS));
  return Math.floor((hash / 2 ** 32) * slots) * PHASE_RESOLUTION_MS;
}

/** The first deadline on the monitor's grid strictly after `now`. */
export function nextSlotAfter(now: number, monitorId: number, intervalMs: number): number {
  const phase = phaseOffsetMs(monitorId, intervalMs);
  const k = Math.floor((now - phase) / intervalMs) + 1;
  return phase + k * intervalMs;
}

export class MonitorScheduler {
  private readonly heap = new IndexedMinHeap<number>();
  private readonly entries = new Map<number, Entry>();
  private readonly now: () => number;
  private readonly maxDelayMs: number;
  private readonly backwardJumpToleranceMs: number;
  private readonly lags: Float64Array;
  private lagCount = 0;
  private lagNext = 0;
  private lastTick: number | undefined;
  private fired = 0;
  private skipped = 0;

  constructor(options: MonitorSchedulerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.backwardJumpToleranceMs = options.backwardJumpToleranceMs ??
      DEFAULT_BACKWARD_JUMP_TOLERANCE_MS;
    this.lags = new Float64Array(Math.max(1, options.lagWindow ?? DEFAULT_LAG_WINDOW));
  }

  get size(): number {
    return this.entries.size;
  }

  has(monitorId: number): boolean {
    return this.entries.has(monitorId);
  }

  /** The monitor's next deadline (epoch ms), or undefined when it is not scheduled. */
  dueAt(monitorId: number): number | undefined {
    return this.heap.priorityOf(monitorId);
  }

  /** The earliest deadline of all monitors, or undefined when there are none. */
  nextDueAt(): number | undefined {
    return this.heap.peek()?.priority;
  }

  /**
   * How long the caller may sleep before calling `collectDue` again: until the next deadline,
   * capped at `maxDelayMs`; undefined when nothing is scheduled (wait for a command).
   */
  delayMs(): number | undefined {
    const next = this.nextDueAt();
    if (next === undefined) return undefined;
    return Math.min(this.maxDelayMs, Math.max(0, next - this.now()));
  }

  /**
   * Replaces the whole set. A monitor that stays with the same interval keeps its deadline
   * (no double or missed poll across a reload); the others are placed as new.
   */
  load(monitors: readonly ScheduledMonitor[]): void {
    for (const monitor of monitors) intervalMsOf(monitor); // validate all before changing any
    const wanted = new Set<number>();
    for (const monitor of monitors) wanted.add(monitor.monitorId);
    for (const monitorId of [...this.entries.keys()]) {
      if (!wanted.has(monitorId)) this.remove(monitorId);
    }
    for (const monitor of monitors) this.upsert(monitor);
  }

  /**
   * Adds a monitor or applies a change. Target fields take effect from the next fire; a new
   * interval re-places the monitor on its new grid at once.
   */
  upsert(monitor: ScheduledMonitor): void {
    const intervalMs = intervalMsOf(monitor);
    const existing = this.entries.get(monitor.monitorId);
    this.entries.set(monitor.monitorId, { monitor: { ...monitor }, intervalMs });
    if (existing && existing.intervalMs === intervalMs) return;
    this.heap.set(monitor.monitorId, nextSlotAfter(this.now(), monitor.monitorId, intervalMs));
  }

  /** Stops scheduling the monitor; false when it was not scheduled. */
  remove(monitorId: number): boolean {
    this.entries.delete(monitorId);
    return this.heap.delete(monitorId);
  }

  /**
   * Every monitor whose deadline is at or before now, as one batch, each rescheduled. Costs
   * O(k log n) for k due monitors: nothing is scanned that is not due.
   */
  collectDue(): PollJob[] {
    const now = this.now();
    if (this.lastTick !== undefined && now < this.lastTick - this.backwardJumpToleranceMs) {
      this.pullDeadlinesBack(now);
    }
    this.lastTick = now;
    const jobs: PollJob[] = [];
    for (
      let top = this.heap.peek();
      top !== undefined && top.priority <= now;
      top = this.heap.peek()
    ) {
      const entry = this.entries.get(top.key)!;
      const { intervalMs, monitor } = entry;
      // The deadlines from top.priority up to now collapse into one run for the latest of them.
      const missed = Math.floor((now - top.priority) / intervalMs);
      const dueAt = top.priority + missed * intervalMs;
      this.skipped += missed;
      this.heap.set(top.key, dueAt + intervalMs);
      this.recordLag(now - dueAt);
      jobs.push({
        monitorId: monitor.monitorId,
        deviceId: monitor.deviceId,
        deviceIp: monitor.deviceIp,
        ...(monitor.deviceHostname ? { deviceHostname: monitor.deviceHostname } : {}),
        credentialProfileId: monitor.credentialProfileId,
        pluginId: monitor.pluginId,
        dueAt,
        intervalS: monitor.intervalS,
        ...(monitor.config ? { config: monitor.config } : {}),
      });
    }
    this.fired += jobs.length;
    return jobs;
  }

  stats(): SchedulerStats {
    const lags = this.lags.slice(0, this.lagCount).sort();
    return {
      monitors: this.entries.size,
      fired: this.fired,
      lagP50Ms: percentile(lags, 0.5),
      lagP99Ms: percentile(lags, 0.99),
      lagMaxMs: lags.length ? lags[lags.length - 1] : 0,
      skipped: this.skipped,
    };
  }

  private recordLag(lagMs: number): void {
    this.lags[this.lagNext] = lagMs;
    this.lagNext = (this.lagNext + 1) % this.lags.length;
    if (this.lagCount < this.lags.length) this.lagCount++;
  }

  /** After the clock stepped back: no deadline may stay more than one interval ahead. */
  private pullDeadlinesBack(now: number): void {
    for (const { key, priority } of [...this.heap.entries()]) {
      const { intervalMs } = this.entries.get(key)!;
      if (priority - now > intervalMs) {
        const steps = Math.ceil((priority - now - intervalMs) / intervalMs);
        this.heap.set(key, priority - steps * intervalMs);
      }
    }
  }
}

/** Nearest-rank percentile of an ascending array; 0 when empty. */
function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}
