/** /discovery : profiles, runs with live progress, and monitoring what a run found. */
import type { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import { canEdit, type View } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import DiscoveryPanel from "../../islands/DiscoveryPanel.tsx";
import { discoveryProfilesRepo } from "../../lib/db/discovery_profiles.ts";
import { discoveryRunsRepo } from "../../lib/db/discovery_runs.ts";
import { summary } from "../../islands/discovery_run.tsx";

export function registerDiscoveryPage(app: Hono<AppEnv>, view: View): void {
  app.get("/discovery", async (c) => {
    const db = c.get("app").db;
    const [profiles, runs, credentials, [plugin]] = await Promise.all([
      discoveryProfilesRepo.list(db, { limit: 200, offset: 0 }),
      discoveryRunsRepo.list(db, { limit: 10, offset: 0, sort: "id", order: "desc" }, {}),
      db.query<{ id: number; name: string }>(
        "SELECT id, name FROM credential_profiles ORDER BY name LIMIT 500",
      ),
      db.query<{ id: number }>(
        "SELECT id FROM plugins WHERE type = 'builtin' ORDER BY id LIMIT 1",
      ),
    ]);
    return view.page(
      c,
      "Discovery",
      <>
        <h1>Discovery</h1>
        <p class="muted">
          A discovery profile scans a network range for Windows hosts and identifies them with a
          credential profile. Found hosts become devices; monitor them to collect metrics.
        </p>
        <Island
          name="DiscoveryPanel"
          component={DiscoveryPanel}
          props={{
            profiles: profiles.items.map((p) => ({
              id: p.id,
              name: p.name,
              credential_profile_id: p.credential_profile_id,
              target: p.target,
              ports: p.ports,
            })),
            credentials,
            pluginId: plugin?.id ?? null,
            canEdit: canEdit(c),
            runs: runs.items.map((r) =>
              summary({
                ...r,
                started_at: r.started_at ? new Date(r.started_at).toISOString() : null,
                created_at: new Date(r.created_at).toISOString(),
              })
            ),
          }}
        />
      </>,
    );
  });
}
