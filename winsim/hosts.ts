/** Simulated host state and loopback address arithmetic. */
import type { SimFault } from "./faults.ts";
import { type HostProfile, hostProfile } from "./profile.ts";

export interface HostStats {
  /** TCP connections accepted (all ports) */
  connections: number;
  /** HTTP requests read */
  requests: number;
  /** requests that had arrived before the response to the previous one was sent */
  pipelinedRequests: number;
  /** NTLM handshakes completed (AUTHENTICATE accepted) */
  authHandshakes: number;
  /** requests answered 401 for wrong or missing credentials */
  authFailures: number;
  basicAuths: number;
  /** requests that arrived sealed (NTLM message encryption) */
  sealedMessages: number;
  enumerations: number;
  pulls: number;
  gets: number;
  /** WS-Man faults sent (HTTP 500) */
  faults: number;
  /** enumeration contexts currently open */
  openContexts: number;
}

export interface EnumerationContext {
  items: string[];
  pos: number;
  touched: number;
}

/** Contexts idle longer than this are dropped, like EnumerationTimeoutms (60 s) on Windows. */
export const CONTEXT_TTL_MS = 60_000;
const MAX_CONTEXTS = 512;

export class HostState {
  fault: SimFault | null = null;
  /** WinRM MaxBatchItems: the most items one response carries (Windows default 32000) */
  maxBatchItems = 32000;
  readonly stats: HostStats = {
    connections: 0,
    requests: 0,
    pipelinedRequests: 0,
    authHandshakes: 0,
    authFailures: 0,
    basicAuths: 0,
    sealedMessages: 0,
    enumerations: 0,
    pulls: 0,
    gets: 0,
    faults: 0,
    openContexts: 0,
  };
  #profile?: HostProfile;
  readonly contexts = new Map<string, EnumerationContext>();

  constructor(readonly ip: string, readonly index: number, readonly tcpOnly = false) {}

  /** Built on first use so 1,000 idle hosts cost little. */
  get profile(): HostProfile {
    return this.#profile ??= hostProfile(this.ip, this.index);
  }

  addContext(id: string, ctx: EnumerationContext): void {
    if (this.contexts.size >= MAX_CONTEXTS) this.sweep(ctx.touched, true);
    this.contexts.set(id, ctx);
    this.stats.openContexts = this.contexts.size;
  }

  takeContext(id: string, now: number): EnumerationContext | undefined {
    this.sweep(now, false);
    const ctx = this.contexts.get(id);
    if (ctx) this.contexts.delete(id);
    this.stats.openContexts = this.contexts.size;
    return ctx;
  }

  /** Drop expired contexts; when full, drop the oldest too (Map keeps insertion order). */
  private sweep(now: number, full: boolean): void {
    for (const [id, ctx] of this.contexts) {
      if (now - ctx.touched > CONTEXT_TTL_MS || (full && this.contexts.size >= MAX_CONTEXTS)) {
        this.contexts.delete(id);
      } else if (!full) break;
    }
  }
}

export function ipToInt(ip: string): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${ip}`);
  }
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** `count` consecutive addresses from `base`, skipping .0 and .255 (network/broadcast-looking). */
export function hostAddresses(base: string, count: number): string[] {
  const out: string[] = [];
  let n = ipToInt(base);
  while (out.length < count) {
    const last = n & 255;
    if (last !== 0 && last !== 255) out.push(intToIp(n));
    n++;
    if (n >>> 24 !== 127) throw new Error("host addresses must stay inside 127.0.0.0/8");
  }
  return out;
}
