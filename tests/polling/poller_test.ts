import { assert, assertEquals } from "../helpers/assert.ts";
import { Poller } from "../../lib/polling/poller.ts";
import { CredentialCache } from "../../lib/polling/credential_cache.ts";
import type {
  Credential,
  MetricSample,
  PluginSpec,
  PollJob,
  PollOutcome,
} from "../../lib/messages.ts";

const plugin: PluginSpec = { id: 1, name: "windows-winrm", type: "builtin", config: {} };
const credential = { id: 1, password: "x" } as Credential;
const job = (monitorId: number, ip: string): PollJob => ({
  monitorId,
  deviceId: monitorId,
  deviceIp: ip,
  credentialProfileId: 1,
  pluginId: 1,
  dueAt: Date.now(),
  intervalS: 60,
});
const sample = (monitorId: number) => ({ monitorId, ts: Date.now() }) as MetricSample;

Deno.test("poller: bounded concurrency overall and per host", async () => {
  let running = 0;
  let peak = 0;
  const perHost = new Map<string, number>();
  let peakPerHost = 0;
  const outcomes: PollOutcome[] = [];
  const poller = new Poller({
    concurrency: 4,
    perHostLimit: 1,
    pollTimeoutMs: 5_000,
    retries: 0,
    backoffBaseMs: 1,
    getCredential: () => Promise.resolve(credential),
    collect: async (j) => {
      running++;
      perHost.set(j.deviceIp, (perHost.get(j.deviceIp) ?? 0) + 1);
      peak = Math.max(peak, running);
      peakPerHost = Math.max(peakPerHost, perHost.get(j.deviceIp)!);
      await new Promise((r) => setTimeout(r, 5));
      perHost.set(j.deviceIp, perHost.get(j.deviceIp)! - 1);
      running--;
      return sample(j.monitorId);
    },
    onSample: () => {},
    onOutcome: (o) => outcomes.push(o),
  });
  for (let i = 0; i < 40; i++) poller.submit(job(i, `127.0.0.${i % 3}`), plugin);
  await poller.idle();
  assertEquals(outcomes.length, 40);
  assert(outcomes.every((o) => o.ok));
  assertEquals(peak, 3, "three hosts, one operation each");
  assertEquals(peakPerHost, 1);
  assertEquals(poller.stats.ok, 40);
});

Deno.test("poller: retries with backoff, then reports the last error; auth is not retried", async () => {
  const calls = new Map<number, number>();
  const outcomes: PollOutcome[] = [];
  const poller = new Poller({
    concurrency: 8,
    perHostLimit: 2,
    pollTimeoutMs: 200,
    retries: 2,
    backoffBaseMs: 5,
    getCredential: () => Promise.resolve(credential),
    collect: (j, _p, _c, signal) => {
      const n = (calls.get(j.monitorId) ?? 0) + 1;
      calls.set(j.monitorId, n);
      if (j.monitorId === 1 && n < 3) return Promise.reject(new Error(`flaky ${n}`));
      if (j.monitorId === 2) {
        return Promise.reject(Object.assign(new Error("down"), { kind: "refused" }));
      }
      if (j.monitorId === 3) {
        return Promise.reject(Object.assign(new Error("bad password for u"), { kind: "auth" }));
      }
      if (j.monitorId === 4) {
        return new Promise((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error("aborted")))
        );
      }
      return Promise.resolve(sample(j.monitorId));
    },
    onSample: () => {},
    onOutcome: (o) => outcomes.push(o),
  });
  for (const id of [1, 2, 3, 4]) poller.submit(job(id, `127.0.1.${id}`), plugin);
  await poller.idle();
  const by = (id: number) => outcomes.find((o) => o.monitorId === id)!;
  assertEquals(by(1).ok, true);
  assertEquals(by(1).attempts, 3);
  assertEquals(by(2).ok, false);
  assertEquals(by(2).attempts, 3, "1 try + 2 retries");
  assertEquals(by(2).error, "down");
  assertEquals(by(2).errorKind, "refused");
  assertEquals(by(3).attempts, 1, "authentication failures are not retried");
  assertEquals(by(4).ok, false);
  assert(by(4).error!.includes("timed out"), by(4).error);
  assertEquals(poller.stats.retried, 2 + 2 + 2);
});

Deno.test("credential cache: one fetch per TTL, shared by concurrent misses, invalidation", async () => {
  let fetches = 0;
  let now = 0;
  const cache = new CredentialCache(1_000, async (id) => {
    fetches++;
    await new Promise((r) => setTimeout(r, 1));
    return { ...credential, id };
  }, () => now);
  await Promise.all([cache.get(1), cache.get(1), cache.get(1)]);
  assertEquals(fetches, 1);
  now = 999;
  await cache.get(1);
  assertEquals(fetches, 1);
  now = 1_001;
  await cache.get(1);
  assertEquals(fetches, 2);
  cache.invalidate(1);
  await cache.get(1);
  assertEquals(fetches, 3);
});
