/**
 * Ids gathered while a batch runs, handled together in the next: the events a bulk change
 * emits one by one in a loop (`PATCH /monitors` enabling 10,000 monitors) cost one call per
 * `max` ids, not one database query each. Batches run one at a time, in the order their ids
 * came, so a later change is never applied before an earlier one.
 */
export class IdBatches {
  /** the ids of the batch not started yet, if one is scheduled */
  #next: Set<number> | null = null;
  #running: Promise<void> = Promise.resolve();

  constructor(
    private readonly handle: (ids: number[]) => Promise<void>,
    private readonly onError: (err: Error, ids: number[]) => void,
    private readonly max = 1_000,
  ) {}

  /** Handles `id` in the next batch (once however often it is added before that batch starts). */
  add(id: number): void {
    if (!this.#next) {
      const batch = new Set<number>();
      this.#next = batch;
      this.#running = this.#running.then(() => this.#drain(batch));
    }
    this.#next.add(id);
  }

  /**
   * Runs `task` in turn with the batches: after those already scheduled, before any id added
   * from now on is handled (a full reload that must not overtake, or be overtaken by, them).
   */
  run(task: () => Promise<void>): Promise<void> {
    this.#next = null;
    const done = this.#running.then(task);
    this.#running = done.catch(() => {});
    return done;
  }

  /** Resolves once everything added so far has been handled. */
  settled(): Promise<void> {
    return this.#running;
  }

  async #drain(batch: Set<number>): Promise<void> {
    if (this.#next === batch) this.#next = null;
    const ids = [...batch];
    for (let i = 0; i < ids.length; i += this.max) {
      const chunk = ids.slice(i, i + this.max);
      try {
        await this.handle(chunk);
      } catch (err) {
        this.onError(err as Error, chunk);
      }
    }
  }
}
