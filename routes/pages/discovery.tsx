/**
 * /discovery : profiles, runs with live progress, and monitoring what a run found;
 * /discovery?run=N opens run N (a past one or one in progress).
 */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { sitesRepo } from "../../lib/db/sites.ts";
import { discoveryProfilesRepo } from "../../lib/db/discovery_profiles.ts";
import { discoveryRunsRepo } from "../../lib/db/discovery_runs.ts";
import { pickLists } from "../../lib/db/pick_lists.ts";
import { runSummary, runView } from "../../lib/web/page_data.ts";

export const discoveryPage: Page = {
  path: "/discovery",
  async get(c, view) {
    const db = c.get("app").db;
    const runParam = c.req.query("run");
    const runId = runParam && /^\d{1,9}$/.test(runParam) ? Number(runParam) : null;
    const [profiles, runs, credentials, pluginId, open] = await Promise.all([
      discoveryProfilesRepo.list(db, { limit: 200, offset: 0 }),
      discoveryRunsRepo.list(db, { limit: 20, offset: 0, sort: "id", order: "desc" }, {}),
      pickLists.credentials(db),
      pickLists.builtinPluginId(db),
      runId ? discoveryRunsRepo.get(db, runId) : Promise.resolve(undefined),
    ]);
    const siteNames = new Map(
      (await sitesRepo.list(db, { limit: 1000, offset: 0 })).items.map((s) => [s.id, s.name]),
    );
    // without ?run, a run still going (started here, in another tab or by a script) is shown
    const latestRunning = runParam === undefined
      ? runs.items.find((r) => r.status === "running" || r.status === "queued")
      : undefined;
    return view.page(
      c,
      "Discovery",
      <>
        <h1>Discovery</h1>
        <p class="muted">
          A discovery profile scans a network range for Windows hosts and identifies them with a
          credential profile. Found hosts become devices; monitor them to collect metrics.
        </p>
        {runParam !== undefined && !open && (
          <p class="error" role="alert">
            There is no discovery run #{runParam}: it may have been removed. The latest runs are
            listed below.
          </p>
        )}
        <Island
          of={islands.DiscoveryPanel}
          props={{
            profiles: profiles.items.map((p) => ({
              id: p.id,
              name: p.name,
              credential_profile_id: p.credential_profile_id,
              target: p.target,
              ports: p.ports,
              site: siteNames.get(p.site_id),
            })),
            credentials,
            pluginId,
            canEdit: canEdit(c),
            runs: runs.items.map(runSummary),
            openRun: open ? runView(open) : latestRunning ? runView(latestRunning) : null,
          }}
        />
      </>,
    );
  },
};
