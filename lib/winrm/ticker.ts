/**
 * Coarse timeouts on one shared interval. Every request has a read timeout, every call an
 * operation deadline and every idle connection an expiry; one setTimeout/clearTimeout pair
 * each costs more CPU than the rest of a request's bookkeeping in Deno's node timers, while
 * these deadlines (seconds) need no better than TICK_MS precision.
 */
const TICK_MS = 50;

export interface Timer {
  at: number;
  fire: () => void;
}

const timers = new Set<Timer>();
let interval: ReturnType<typeof setInterval> | undefined;

function tick() {
  const now = performance.now();
  for (const t of timers) {
    if (t.at <= now) {
      timers.delete(t);
      try {
        t.fire();
      } catch { /* a callback's failure must not stop the others */ }
    }
  }
  stopIfIdle();
}

function stopIfIdle() {
  if (!timers.size && interval !== undefined) {
    clearInterval(interval);
    interval = undefined;
  }
}

/** Calls `fire` about `ms` from now (never early) unless cancelled. */
export function schedule(ms: number, fire: () => void): Timer {
  const t = { at: performance.now() + ms, fire };
  timers.add(t);
  if (interval === undefined) {
    interval = setInterval(tick, TICK_MS);
    // pending sockets keep the process alive; the ticker alone must not
    const i = interval as unknown;
    if (typeof i === "number") Deno.unrefTimer(i);
    else (i as { unref?: () => void }).unref?.();
  }
  return t;
}

/** (A parked keep-alive connection holds a timer, so a polling client rarely empties the set
 * and the interval is not restarted per request.) */
export function cancel(t: Timer | undefined) {
  if (t && timers.delete(t)) stopIfIdle();
}

/** Pushes a timer's expiry to `ms` from now. */
export function postpone(t: Timer, ms: number) {
  t.at = performance.now() + ms;
}
