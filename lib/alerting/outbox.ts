/**
 * Delivery from the durable outbox (a table, so the central role needs no KV queue): due rows
 * go to their channel's sender, oldest first and one at a time per (problem, channel) so a
 * problem's notifications arrive in order; a failure is retried with exponential backoff, and
 * a row that cannot be delivered (not retryable, or out of attempts) ends dead, listed on the
 * dashboard and in /health. Every attempt is logged against the problem.
 *
 * Several processes may deliver from one outbox (central processes sharing PostgreSQL): each
 * round claims its rows (FOR UPDATE SKIP LOCKED, then a lease in next_attempt_at), so a row is
 * attempted by one process at a time; a claimant that dies leaves its rows to be retried once
 * the lease runs out, under the same idempotency key.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import { outboxRepo, type OutboxRow } from "../db/notifications.ts";
import type { ChannelSender, DeliveryOutcome } from "./notification.ts";

const log = getLogger(["nmslite", "alerting", "outbox"]);

export interface OutboxOptions {
  /** first retry after this long; doubles per attempt up to maxBackoffMs */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** attempts before a row is dead */
  maxAttempts: number;
  /**
   * the longest wait between rounds when nothing wakes the loop (a row queued by a process
   * that died before delivering it); a row falling due sooner (a retry, a claim that ran out)
   * is looked for when it falls due, and an idle process asks the database once per pollMs
   */
  pollMs: number;
  /** one attempt's time limit */
  sendTimeoutMs: number;
  /**
   * how long a claimed row is kept from other processes; longer than a round's attempts
   * (sendTimeoutMs plus the time to build a sender). Default sendTimeoutMs + 60 s.
   */
  claimLeaseMs?: number;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  baseBackoffMs: 5_000,
  maxBackoffMs: 300_000,
  maxAttempts: 12,
  pollMs: 30_000,
  sendTimeoutMs: 15_000,
};

/** the shortest wait between rounds that nothing woke */
const MIN_GAP_MS = 1_000;

export class OutboxDelivery {
  private timer?: ReturnType<typeof setTimeout>;
  private running?: Promise<unknown>;
  private again = false;
  private stopped = false;
  /** `${channelId}|${outcome}` -> attempts since start (ok, retry, dead) */
  readonly outcomes = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly senderOf: (channelId: number) => Promise<ChannelSender | undefined>,
    private readonly opts: OutboxOptions,
  ) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Something was queued: deliver soon. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      let wait = this.opts.pollMs;
      this.running = this.runOnce().then(async () => {
        if (this.again || this.stopped) return;
        const due = await outboxRepo.nextDueInMs(this.db);
        if (due !== null) wait = Math.min(Math.max(due, MIN_GAP_MS), this.opts.pollMs);
      }).catch((err) =>
        log.error("outbox delivery failed: {message}", { message: (err as Error).message })
      ).finally(() => {
        this.running = undefined;
        const again = this.again;
        this.again = false;
        this.schedule(again ? 0 : wait);
      });
    }, ms);
  }

  private lock: Promise<unknown> = Promise.resolve();

  /** One round over the due rows (rounds never overlap); returns how many were attempted. */
  runOnce(): Promise<number> {
    const round = this.lock.then(() => this.round());
    this.lock = round.catch(() => {});
    return round;
  }

  private async round(): Promise<number> {
    // A row retried within this round (a short backoff) waits for the next one.
    const seen = new Set<number>();
    while (!this.stopped) {
      const lease = this.opts.claimLeaseMs ?? this.opts.sendTimeoutMs + 60_000;
      const rows = (await outboxRepo.claim(this.db, 20, lease, [...seen])).sort((a, b) =>
        a.id - b.id
      );
      if (!rows.length) break;
      for (const r of rows) seen.add(r.id);
      await Promise.all(rows.map((r) => this.attempt(r)));
    }
    return seen.size;
  }

  private async attempt(row: OutboxRow): Promise<void> {
    const sender = await this.senderOf(row.channel_id).catch(() => undefined);
    let outcome: DeliveryOutcome;
    if (!sender) {
      outcome = {
        ok: false,
        retryable: false,
        status: "no-channel",
        detail: "the channel is disabled or cannot be used",
        durationMs: 0,
      };
    } else {
      const started = performance.now();
      try {
        outcome = await sender.send(row.payload, AbortSignal.timeout(this.opts.sendTimeoutMs));
      } catch (err) {
        outcome = {
          ok: false,
          retryable: true,
          status: "error",
          detail: (err as Error).name,
          durationMs: performance.now() - started,
        };
      }
    }
    const attempts = row.attempts + 1;
    const next = outcome.ok
      ? "delivered"
      : !outcome.retryable || attempts >= this.opts.maxAttempts
      ? "dead"
      : new Date(
        Date.now() +
          Math.min(this.opts.baseBackoffMs * 2 ** (attempts - 1), this.opts.maxBackoffMs),
      );
    const label = next === "delivered" ? "ok" : next === "dead" ? "dead" : "retry";
    const key = `${row.channel_id}|${label}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
    if (next === "dead") {
      log.warn("notification {key} to channel {channel} is dead after {attempts} attempt(s)", {
        key: row.idempotency_key,
        channel: row.channel_id,
        attempts,
      });
    }
    const recorded = await outboxRepo.recordAttempt(this.db, row, {
      ok: outcome.ok,
      status: outcome.status,
      detail: outcome.ok ? null : outcome.detail,
      durationMs: outcome.durationMs,
      next,
    });
    if (!recorded) {
      log.warn("notification {key}: the claim ran out before the attempt was recorded", {
        key: row.idempotency_key,
      });
    }
  }
}
