/**
 * Repeated failed logins per (client address, username) answer 429 for a while. Counting per
 * pair locks out a guesser without letting one client lock every account for everyone. A login
 * the API refuses as malformed (400) counts as a failure too.
 */
export class LoginThrottle {
  private readonly failures = new Map<
    string,
    { count: number; first: number; lockedUntil: number }
  >();

  constructor(private readonly maxFailures: number, private readonly lockoutMs: number) {}

  /** Milliseconds the pair must still wait, or 0 when a login may be tried. */
  retryAfterMs(client: string, username: string, now = Date.now()): number {
    const entry = this.failures.get(key(client, username));
    if (!entry) return 0;
    if (entry.lockedUntil > now) return entry.lockedUntil - now;
    if (entry.lockedUntil !== 0 || now - entry.first > this.lockoutMs) {
      this.failures.delete(key(client, username));
    }
    return 0;
  }

  recordFailure(client: string, username: string, now = Date.now()): void {
    const k = key(client, username);
    const entry = this.failures.get(k);
    if (!entry || now - entry.first > this.lockoutMs) {
      this.failures.set(k, {
        count: 1,
        first: now,
        lockedUntil: this.maxFailures <= 1 ? now + this.lockoutMs : 0,
      });
      return;
    }
    entry.count++;
    if (entry.count >= this.maxFailures) entry.lockedUntil = now + this.lockoutMs;
    if (this.failures.size > 100_000) this.prune(now);
  }

  recordSuccess(client: string, username: string): void {
    this.failures.delete(key(client, username));
  }

  private prune(now: number): void {
    for (const [k, e] of this.failures) {
      if (e.lockedUntil < now && now - e.first > this.lockoutMs) this.failures.delete(k);
    }
  }
}

/**
 * The name a failure counts against: case folded (usernames are unique regardless of case) and
 * without control characters or surrounding space, so "Admin", " admin" and "adm\u0000in"
 * all count toward admin's lockout.
 */
export function throttleName(username: string): string {
  // deno-lint-ignore no-control-regex
  return username.replace(/[\u0000-\u001f\u007f]/g, "").trim().toLowerCase();
}

const key = (client: string, username: string) => `${client}\u0000${throttleName(username)}`;
