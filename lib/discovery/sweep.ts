/** How a discovery run walks its addresses: chunks in parallel lanes, and a concurrency limit. */

/** Feeds addresses in chunks to `probe`, keeping about `concurrency` addresses in flight. */
export async function sweep(
  addresses: Iterable<string>,
  o: {
    concurrency: number;
    chunk: number;
    signal: AbortSignal;
    probe(chunk: string[]): Promise<void>;
  },
): Promise<void> {
  const iterator = addresses[Symbol.iterator]();
  const chunkSize = Math.max(1, Math.min(o.chunk, o.concurrency));
  const lanes = Math.max(1, Math.floor(o.concurrency / chunkSize));
  const next = (): string[] => {
    const out: string[] = [];
    while (out.length < chunkSize) {
      const r = iterator.next();
      if (r.done) break;
      out.push(r.value);
    }
    return out;
  };
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (let chunk = next(); chunk.length && !o.signal.aborted; chunk = next()) {
      await o.probe(chunk);
    }
  }));
}

/** Runs at most `limit` tasks at once. */
export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}
