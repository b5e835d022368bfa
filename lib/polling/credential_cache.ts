/**
 * Decrypted credentials in a poller Worker: fetched from the main isolate once, kept for a
 * TTL, dropped at once when the profile changes. Concurrent misses share one request.
 */
import type { Credential } from "../messages.ts";

export class CredentialCache {
  private readonly entries = new Map<number, { credential: Credential; expires: number }>();
  private readonly pending = new Map<number, Promise<Credential>>();

  constructor(
    private readonly ttlMs: number,
    private readonly fetch: (id: number) => Promise<Credential>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(id: number): Promise<Credential> {
    const hit = this.entries.get(id);
    if (hit && hit.expires > this.now()) return hit.credential;
    const inFlight = this.pending.get(id);
    if (inFlight) return await inFlight;
    const request = this.fetch(id).then((credential) => {
      this.entries.set(id, { credential, expires: this.now() + this.ttlMs });
      return credential;
    }).finally(() => this.pending.delete(id));
    this.pending.set(id, request);
    return await request;
  }

  invalidate(id: number): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }
}
