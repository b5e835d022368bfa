/**
 * Per-device sliding failure window: when to deactivate a failing device, and when a
 * deactivated one is due for a cheap reachability probe. Pure logic with an injectable clock;
 * the health service turns the decisions into database updates and scheduler commands.
 *
 * A failure at t counts on when t - lastFailure < window, else the count restarts at 1
 * (exactly one window apart is already "quiet"). Reaching the threshold deactivates.
 * A success also resets the count: the device answered, so scattered failures between good
 * polls (say one poll in three timing out) must not add up to a deactivation.
 */
export interface FailureWindowOptions {
  /** failures further apart than this do not add up */
  windowMs: number;
  /** failures within windows that deactivate the device; at least 1 */
  threshold: number;
  /** how long a deactivated device rests before (and between) reachability probes */
  reactivateAfterMs: number;
  /** epoch ms; Date.now by default */
  now?: () => number;
}

export type FailureDecision =
  /** counted, still below the threshold */
  | { action: "count"; failures: number }
  /** the threshold is reached: deactivate the device now */
  | { action: "deactivate"; failures: number; reason: string }
  /** the device is already deactivated (a poll that was in flight); nothing to do */
  | { action: "ignore" };

interface DeviceState {
  failures: number;
  lastFailureAt: number;
  /** set while the device is deactivated */
  deactivatedAt?: number;
  /** when a reachability probe may run next, while deactivated */
  probeAt?: number;
}

const MAX_ERROR_IN_REASON = 200;

export class FailureWindow {
  private readonly devices = new Map<number, DeviceState>();
  private readonly windowMs: number;
  private readonly threshold: number;
  private readonly reactivateAfterMs: number;
  private readonly now: () => number;

  constructor(options: FailureWindowOptions) {
    if (!(options.windowMs > 0)) throw new RangeError("windowMs must be > 0");
    if (!Number.isInteger(options.threshold) || options.threshold < 1) {
      throw new RangeError("threshold must be an integer >= 1");
    }
    if (!(options.reactivateAfterMs >= 0)) throw new RangeError("reactivateAfterMs must be >= 0");
    this.windowMs = options.windowMs;
    this.threshold = options.threshold;
    this.reactivateAfterMs = options.reactivateAfterMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * Records a failed poll (or ping) of the device and says what to do about it. A failure
   * not later than the last one counted is ignored: the results queue delivers at least once,
   * and a redelivered outcome must not count twice.
   */
  recordFailure(deviceId: number, error: string, at = this.now()): FailureDecision {
    const state = this.devices.get(deviceId);
    if (state?.deactivatedAt !== undefined) return { action: "ignore" };
    if (state && at <= state.lastFailureAt) return { action: "ignore" };
    const failures = state && at - state.lastFailureAt < this.windowMs ? state.failures + 1 : 1;
    if (failures < this.threshold) {
      this.devices.set(deviceId, { failures, lastFailureAt: at });
      return { action: "count", failures };
    }
    this.devices.set(deviceId, {
      failures,
      lastFailureAt: at,
      deactivatedAt: at,
      probeAt: at + this.reactivateAfterMs,
    });
    return { action: "deactivate", failures, reason: this.reason(failures, error) };
  }

  /** A successful poll: the count starts over. No effect on a deactivated device. */
  recordSuccess(deviceId: number): void {
    const state = this.devices.get(deviceId);
    if (state && state.deactivatedAt === undefined) this.devices.delete(deviceId);
  }

  /** Failures counted so far in the device's current run (0 when none). */
  failures(deviceId: number): number {
    return this.devices.get(deviceId)?.failures ?? 0;
  }

  isDeactivated(deviceId: number): boolean {
    return this.devices.get(deviceId)?.deactivatedAt !== undefined;
  }

  /**
   * Marks a device found inactive elsewhere (e.g. loaded at start-up, deactivated before a
   * restart), so it gets reachability probes too.
   */
  markDeactivated(deviceId: number, at = this.now()): void {
    const state = this.devices.get(deviceId);
    if (state?.deactivatedAt !== undefined) return;
    this.devices.set(deviceId, {
      failures: state?.failures ?? 0,
      lastFailureAt: state?.lastFailureAt ?? at,
      deactivatedAt: at,
      probeAt: at + this.reactivateAfterMs,
    });
  }

  /** When the device may be probed next (epoch ms); undefined when it is not deactivated. */
  probeDueAt(deviceId: number): number | undefined {
    return this.devices.get(deviceId)?.probeAt;
  }

  /** Deactivated devices whose probe time has come, earliest first. */
  probesDue(at = this.now()): number[] {
    const due: Array<[number, number]> = [];
    for (const [deviceId, state] of this.devices) {
      if (state.probeAt !== undefined && state.probeAt <= at) due.push([state.probeAt, deviceId]);
    }
    return due.sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, deviceId]) => deviceId);
  }

  /** The probe found the device still unreachable: it rests another `reactivateAfterMs`. */
  probeFailed(deviceId: number, at = this.now()): void {
    const state = this.devices.get(deviceId);
    if (state?.deactivatedAt !== undefined) state.probeAt = at + this.reactivateAfterMs;
  }

  /** The device answered a probe (or was re-enabled by hand): it starts with a clean slate. */
  reactivated(deviceId: number): void {
    this.devices.delete(deviceId);
  }

  /** The device was deleted. */
  forget(deviceId: number): void {
    this.devices.delete(deviceId);
  }

  private reason(failures: number, error: string): string {
    const seconds = Math.round(this.windowMs / 1000);
    const last = error.length > MAX_ERROR_IN_REASON
      ? `${error.slice(0, MAX_ERROR_IN_REASON)}…`
      : error;
    const polls = failures === 1 ? "failed poll" : "failed polls";
    return `${failures} ${polls} within ${seconds} s windows; last error: ${last}`;
  }
}
