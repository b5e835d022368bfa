/** /discovery : profiles, runs with live progress, and monitoring what a run found. */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { discoveryProfilesRepo } from "../../lib/db/discovery_profiles.ts";
import { discoveryRunsRepo } from "../../lib/db/discovery_runs.ts";
import { pickLists } from "../../lib/db/pick_lists.ts";
import { runSummary } from "../../lib/web/page_data.ts";

export const discoveryPage: Page = {
  path: "/discovery",
  async get(c, view) {
    const db = c.get("app").db;
    const [profiles, runs, credentials, pluginId] = await Promise.all([
      discoveryProfilesRepo.list(db, { limit: 200, offset: 0 }),
      discoveryRunsRepo.list(db, { limit: 10, offset: 0, sort: "id", order: "desc" }, {}),
      pickLists.credentials(db),
      pickLists.builtinPluginId(db),
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
          of={islands.DiscoveryPanel}
          props={{
            profiles: profiles.items.map((p) => ({
              id: p.id,
              name: p.name,
              credential_profile_id: p.credential_profile_id,
              target: p.target,
              ports: p.ports,
            })),
            credentials,
            pluginId,
            canEdit: canEdit(c),
            runs: runs.items.map(runSummary),
          }}
        />
      </>,
    );
  },
};
