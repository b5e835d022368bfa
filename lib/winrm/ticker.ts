/**
 * Coarse timeouts on one shared interval. Every request has a read timeout, every call an
 * operation deadline and every idle connection an expiry; one setTimeout/clearTimeout pair
 * each costs more CPU than the rest of a request's bookkeeping in Deno's node timers, while
 * these deadlines (seconds) need no better than TICK_MS precision.
 *
 * Timers sit in slots of TICK_MS (a timing wheel), so a tick looks only at the timers due in
 * the slots it passed, not at every timer: a poller Worker holds one per kept-alive connection,
 * thousands of them, nearly all far from due. Postponing only moves `at`; a timer found in its
 * old slot with a later `at` is filed again there and then.
 */
const TICK_MS = 50;

export interface Timer {
  at: number;
  fire: () => void;
  /** the slot it is filed in; -1 once fired or cancelled */
  slot: number;
}

const slots = new Map<number, Set<Timer>>();
let size = 0;
/** the last slot a tick went through */
let swept = 0;
let interval: ReturnType<typeof setInterval> | undefined;

function file(t: Timer) {
  t.slot = Math.max(Math.ceil(t.at / TICK_MS), swept + 1);
  let set = slots.get(t.slot);
  if (!set) slots.set(t.slot, set = new Set());
  set.add(t);
}

function tick() {
  const now = performance.now();
  const upto = Math.floor(now / TICK_MS);
  while (swept < upto) {
    const slot = ++swept;
    const due = slots.get(slot);
    if (!due) continue;
    slots.delete(slot);
    for (const t of due) {
      if (t.slot !== slot) continue; // cancelled meanwhile
      if (t.at > now) {
        file(t); // postponed
        continue;
      }
      t.slot = -1;
      size--;
      try {
        t.fire();
      } catch { /* a callback's failure must not stop the others */ }
    }
  }
  stopIfIdle();
}

function stopIfIdle() {
  if (!size && interval !== undefined) {
    clearInterval(interval);
    interval = undefined;
    slots.clear(); // only emptied sets of cancelled timers are left
  }
}

/** Calls `fire` about `ms` from now (never early) unless cancelled. */
export function schedule(ms: number, fire: () => void): Timer {
  if (interval === undefined) {
    swept = Math.floor(performance.now() / TICK_MS) - 1;
    interval = setInterval(tick, TICK_MS);
    // pending sockets keep the process alive; the ticker alone must not
    const i = interval as unknown;
    if (typeof i === "number") Deno.unrefTimer(i);
    else (i as { unref?: () => void }).unref?.();
  }
  const t: Timer = { at: performance.now() + ms, fire, slot: -1 };
  file(t);
  size++;
  return t;
}

/** (A parked keep-alive connection holds a timer, so a polling client rarely empties the set
 * and the interval is not restarted per request.) */
export function cancel(t: Timer | undefined) {
  if (!t || t.slot < 0) return;
  slots.get(t.slot)?.delete(t);
  t.slot = -1;
  size--;
  stopIfIdle();
}

/** Pushes a timer's expiry to `ms` from now. */
export function postpone(t: Timer, ms: number) {
  t.at = performance.now() + ms;
}
