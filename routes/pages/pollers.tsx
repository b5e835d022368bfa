/** /pollers : sites and their poller nodes, for admins only (the API enforces the same). */
import type { Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { EmptyState } from "../../components/Layout.tsx";
import { pollerNodesRepo } from "../../lib/db/poller_nodes.ts";
import { sitesRepo } from "../../lib/db/sites.ts";

export const pollersPage: Page = {
  path: "/pollers",
  async get(c, view) {
    if (c.get("user").role !== "admin") {
      return view.page(
        c,
        "Pollers",
        <EmptyState title="Admins only">
          Poller nodes receive credentials: only an admin can see and manage them.
        </EmptyState>,
        403,
      );
    }
    const db = c.get("app").db;
    const all = { limit: 1000, offset: 0 };
    const nodes = (await pollerNodesRepo.list(db, all, {})).items.map((n) => ({
      id: n.id,
      site: n.site,
      name: n.name,
      status: n.status,
      version: n.version,
      last_heartbeat: n.last_heartbeat ? new Date(n.last_heartbeat).toISOString() : null,
      monitors: n.stats.monitors ?? null,
      polls_per_s: n.stats.polls_per_s ?? null,
      buffered: n.stats.buffered ?? null,
    }));
    const sites = (await sitesRepo.list(db, all)).items.map((s) => ({ id: s.id, name: s.name }));
    return view.page(
      c,
      "Pollers",
      <>
        <h1>Pollers</h1>
        <p class="muted">
          The server polls the site <em>local</em>{" "}
          itself; every other site is polled by its poller nodes, which connect out to this server
          (docs/deploy.md).
        </p>
        <Island of={islands.PollerNodes} props={{ nodes, sites }} />
      </>,
    );
  },
};
