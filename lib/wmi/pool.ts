/**
 * The process-wide set of WMI clients, one per host and credential, so consecutive polls of a
 * device reuse its logged-in IWbemServices and connection. A client idle longer than
 * IDLE_MS is closed (releasing its interfaces); a changed password makes a new client.
 */
import { createHash } from "node:crypto";
import { WmiClient, type WmiClientOptions } from "./client.ts";

const IDLE_MS = 90_000;

interface Entry {
  client: WmiClient;
  used: number;
}

const clients = new Map<string, Entry>();
let sweeper: ReturnType<typeof setInterval> | undefined;

function key(o: WmiClientOptions): string {
  const secret = createHash("sha256").update(o.password).digest("hex");
  return [o.host, o.port ?? 135, o.username, o.domain ?? "", o.namespace ?? "", secret].join("\0");
}

/** The shared client for these options (created on first use). */
export function sharedWmiClient(opts: WmiClientOptions): WmiClient {
  const k = key(opts);
  let e = clients.get(k);
  if (!e) {
    e = { client: new WmiClient(opts), used: Date.now() };
    clients.set(k, e);
    sweeper ??= startSweeper();
  }
  e.used = Date.now();
  return e.client;
}

function startSweeper() {
  const t = setInterval(() => {
    const now = Date.now();
    for (const [k, e] of clients) {
      if (now - e.used > IDLE_MS && !e.client.busy) {
        clients.delete(k);
        e.client.close().catch(() => {});
      }
    }
    if (clients.size === 0) {
      clearInterval(t);
      sweeper = undefined;
    }
  }, 15_000);
  Deno.unrefTimer(t);
  return t;
}

export function sharedWmiClientCount(): number {
  return clients.size;
}

/** Closes every shared client (process shutdown, tests). */
export async function closeSharedWmiClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  if (sweeper !== undefined) clearInterval(sweeper);
  sweeper = undefined;
  await Promise.all(all.map((e) => e.client.close().catch(() => {})));
}
