/**
 * A discovery run's progress is visible while it runs: addresses count as scanned when their
 * TCP probes end even while the ICMP sweep of their chunk is still out, and the hosts not
 * identified (with why) are saved before the run ends. Probes and identification are stand-ins
 * held open by the test, so nothing depends on timing; the database is real.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { backends, openTestDatabase } from "../helpers/databases.ts";
import { Keyring, parseMasterKey } from "../../lib/crypto/secrets.ts";
import { SEED_MASTER_KEY } from "../helpers/seed.ts";
import { DiscoveryService, type IdentifyHost } from "../../lib/discovery/discovery.ts";
import { discoveryRunsRepo } from "../../lib/db/discovery_runs.ts";
import type { Database } from "../../lib/db/driver.ts";
import { migrate } from "../../lib/db/migrate.ts";

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

async function seedProfile(db: Database, keyring: Keyring): Promise<number> {
  await migrate(db);
  const [c] = await db.query<{ id: number }>(
    `INSERT INTO credential_profiles (name, type, username, password_enc, port)
     VALUES ('c', 'winrm_ntlm', 'u', $1, 5985) RETURNING id`,
    [await keyring.encrypt("pw")],
  );
  const [p] = await db.query<{ id: number }>(
    `INSERT INTO discovery_profiles (name, credential_profile_id, target, address_count, ports)
     VALUES ('lab', $1, '127.0.70.0/24', 256, '{5985,135}') RETURNING id`,
    [c.id],
  );
  return p.id;
}

for (const backend of backends()) {
  Deno.test({
    name: `discovery progress while the run is out (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      try {
        const keyring = await Keyring.create(parseMasterKey(SEED_MASTER_KEY));
        const profileId = await seedProfile(db, keyring);
        let releasePing!: () => void;
        const pingHeld = new Promise<void>((r) => releasePing = r);
        let releaseIdentify!: () => void;
        const identifyHeld = new Promise<void>((r) => releaseIdentify = r);
        const identify: IdentifyHost = async (ip, _c, signal) => {
          await Promise.race([
            identifyHeld,
            new Promise((_, reject) =>
              signal.addEventListener("abort", () => reject(signal.reason))
            ),
          ]);
          if (ip.endsWith(".3")) throw Object.assign(new Error("access denied"), { kind: "auth" });
          return { hostname: `H${ip.split(".")[3]}` };
        };
        const service = new DiscoveryService(db, keyring, identify, {
          concurrency: 256,
          probeTimeoutMs: 1_000,
          identifyConcurrency: 4,
          identifyTimeoutMs: 60_000,
          ping: true,
          probes: {
            pingAvailable: () => Promise.resolve(true),
            // fping answers only when the test says so (a slow ICMP sweep)
            pingAlive: async (ips) => {
              await pingHeld;
              return new Set(ips.filter((ip) => ip.endsWith(".2")));
            },
            openPorts: (ip) => {
              const last = Number(ip.split(".")[3]);
              if (last >= 2 && last <= 4) return Promise.resolve([5985, 135]);
              if (last === 5) return Promise.resolve([135]); // RPC only: not WinRM
              return Promise.resolve([]);
            },
          },
        });
        const run = await service.start(profileId, null);
        // every TCP probe is done while the ICMP sweep is still out: progress shows it
        await until("addresses counted while ping is out", async () => {
          const r = await discoveryRunsRepo.get(db, run.id);
          return r?.addresses_scanned === 256;
        });
        let r = (await discoveryRunsRepo.get(db, run.id))!;
        assertEquals(r.status, "running");
        assertEquals([r.hosts_found, r.identified, r.ping_replies], [4, 0, 0]);
        // the host without WinRM is listed with its reason before the run ends
        assertEquals(r.unidentified.map((u) => u.ip), ["127.0.70.5"]);
        assert(
          /WinRM port 5985 is closed/.test(r.unidentified[0].reason),
          r.unidentified[0].reason,
        );

        releasePing();
        releaseIdentify();
        await service.wait(run.id);
        r = (await discoveryRunsRepo.get(db, run.id))!;
        assertEquals(r.status, "completed");
        assertEquals([r.identified, r.failed, r.ping_replies], [2, 2, 1]);
        assertEquals(r.unidentified.map((u) => u.ip), ["127.0.70.3", "127.0.70.5"]);
        // a late progress save cannot undo the finished record
        await discoveryRunsRepo.saveProgress(db, run.id, { ...r, addresses_scanned: 1 }, []);
        assertEquals((await discoveryRunsRepo.get(db, run.id))!.addresses_scanned, 256);
      } finally {
        await close();
      }
    },
  });

  Deno.test({
    name: `a discovery run held by slow hosts can be cancelled (${backend})`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const { db, close } = await openTestDatabase(backend);
      try {
        const keyring = await Keyring.create(parseMasterKey(SEED_MASTER_KEY));
        const profileId = await seedProfile(db, keyring);
        const identify: IdentifyHost = (_ip, _c, signal) =>
          new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
        const service = new DiscoveryService(db, keyring, identify, {
          concurrency: 64,
          probeTimeoutMs: 1_000,
          identifyConcurrency: 4,
          identifyTimeoutMs: 600_000,
          ping: false,
          probes: {
            pingAvailable: () => Promise.resolve(false),
            pingAlive: () => Promise.resolve(null),
            openPorts: (ip) => Promise.resolve(ip.endsWith(".9") ? [5985] : []),
          },
        });
        const run = await service.start(profileId, null);
        await until(
          "the host found",
          async () => (await discoveryRunsRepo.get(db, run.id))?.hosts_found === 1,
        );
        assert(service.cancel(run.id));
        await service.wait(run.id);
        const r = (await discoveryRunsRepo.get(db, run.id))!;
        assertEquals([r.status, r.identified], ["cancelled", 0]);
      } finally {
        await close();
      }
    },
  });
}
