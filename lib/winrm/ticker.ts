/**
 * Coarse timeouts on one shared wake-up. Every request has a read timeout, every call an
 * operation deadline and every idle connection an expiry; one setTimeout/clearTimeout pair
 * each costs more CPU than the rest of a request's bookkeeping in Deno's node timers, while
 * these deadlines (seconds) need no better than TICK_MS precision.
 *
 * Timers sit in slots of TICK_MS (a timing wheel), so a wake-up looks only at the timers due in
 * the slots it passed, not at every timer: a poller Worker holds one per kept-alive connection,
 * thousands of them, nearly all far from due. Postponing only moves `at`; a timer found in its
 * old slot with a later `at` is filed again there and then.
 *
 * The thread sleeps until the earliest slot that holds a timer rather than waking every
 * TICK_MS: nearly every timer is cancelled before it is due (a request's read timeout when the
 * response comes, a connection's expiry when it is used again), so a polling Worker has nothing
 * due most of the time. Waking up costs far more than the work a wake-up does: an idle Deno
 * thread woken by a timer spent ~150 µs of CPU per wake-up here, whatever the callback did; a
 * process holding 2,000 far timers spent 3.68 ms of CPU a second on a 50 ms interval, 0.08 now.
 */
const TICK_MS = 50;

export interface Timer {
  at: number;
  fire: () => void;
  /** the slot it is filed in; -1 once fired or cancelled */
  slot: number;
}

/** slot number -> its timers; a slot is removed once empty */
const slots = new Map<number, Set<Timer>>();
let size = 0;
/** the last slot a wake-up went through */
let swept = 0;
let wake: ReturnType<typeof setTimeout> | undefined;
/** the slot the pending wake-up is for (Infinity: none pending) */
let wakeSlot = Infinity;

function file(t: Timer) {
  t.slot = Math.max(Math.ceil(t.at / TICK_MS), swept + 1);
  let set = slots.get(t.slot);
  if (!set) slots.set(t.slot, set = new Set());
  set.add(t);
  if (t.slot < wakeSlot) arm(t.slot);
}

/** The wake-up at the start of `slot`'s time (the end of its timers' `at`), replacing any other. */
function arm(slot: number) {
  if (wake !== undefined) clearTimeout(wake);
  wakeSlot = slot;
  wake = setTimeout(tick, Math.max(0, slot * TICK_MS - performance.now()));
  // pending sockets keep the process alive; the ticker alone must not
  const w = wake as unknown;
  if (typeof w === "number") Deno.unrefTimer(w);
  else (w as { unref?: () => void }).unref?.();
}

function disarm() {
  if (wake !== undefined) clearTimeout(wake);
  wake = undefined;
  wakeSlot = Infinity;
}

let wakeups = 0;
/** Wake-ups so far (a thread whose timers are all far from due must sleep: a test checks it). */
export const wakeupCount = () => wakeups;

function tick() {
  wakeups++;
  wake = undefined;
  wakeSlot = Infinity;
  const now = performance.now();
  const upto = Math.floor(now / TICK_MS);
  const due: number[] = [];
  for (const slot of slots.keys()) if (slot <= upto) due.push(slot);
  due.sort((a, b) => a - b);
  // timers filed while these fire go to later slots
  swept = Math.max(swept, upto);
  for (const slot of due) {
    const timers = slots.get(slot)!;
    slots.delete(slot);
    for (const t of timers) {
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
  let next = Infinity;
  for (const slot of slots.keys()) if (slot < next) next = slot;
  if (next === Infinity) disarm();
  else if (next !== wakeSlot) arm(next);
}

/** Calls `fire` about `ms` from now (never early) unless cancelled. */
export function schedule(ms: number, fire: () => void): Timer {
  if (size === 0) swept = Math.floor(performance.now() / TICK_MS) - 1;
  const t: Timer = { at: performance.now() + ms, fire, slot: -1 };
  size++;
  file(t);
  return t;
}

/**
 * Stops a timer. Its slot goes when it empties, so that the next wake-up is for a slot that
 * holds a timer; a wake-up already set for an emptied slot finds nothing and sets the next.
 */
export function cancel(t: Timer | undefined) {
  if (!t || t.slot < 0) return;
  const set = slots.get(t.slot);
  if (set) {
    set.delete(t);
    if (set.size === 0) slots.delete(t.slot);
  }
  t.slot = -1;
  size--;
  if (size === 0) disarm();
}

/** Pushes a timer's expiry to `ms` from now. */
export function postpone(t: Timer, ms: number) {
  t.at = performance.now() + ms;
}
