/** / : the overview, and /overview.json which its island polls. */
import type { Page } from "./view.tsx";
import { loadOverview } from "../../lib/db/overview_reads.ts";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { EmptyState } from "../../components/Layout.tsx";
import type { HttpDeps } from "../http/env.ts";
import type { OverviewData } from "../../lib/web/page_data.ts";

export const overviewPage: Page = {
  path: "/",
  async get(c, view) {
    const [data, problems] = await Promise.all([
      overview(c.get("app")),
      c.get("app").services.problems.overview(),
    ]);
    return view.page(
      c,
      "Overview",
      <>
        <h1>Overview</h1>
        {data.devices_total === 0 && (
          <EmptyState title="No devices yet">
            Start by adding a <a href="/credentials">credential profile</a>{" "}
            (the Windows account NMSlite logs in with), then create a{" "}
            <a href="/discovery">discovery profile</a> for your network and run it.
          </EmptyState>
        )}
        <p class="problems-summary">
          <a href="/problems">
            {problems.open} open problem{problems.open === 1 ? "" : "s"}
          </a>{" "}
          ({problems.by_severity.critical} critical, {problems.by_severity.high} high,{" "}
          {problems.by_severity.warning} warning, {problems.by_severity.info} info;{" "}
          {problems.acknowledged} acknowledged)
        </p>
        <Island of={islands.Overview} props={{ initial: data }} />
      </>,
    );
  },
};

export const overviewJson: Page = {
  path: "/overview.json",
  get: async (c) => c.json(await overview(c.get("app"))),
};

/** The read model plus the pollers' saturation, which lives in memory, not in the database. */
async function overview(app: HttpDeps): Promise<OverviewData> {
  return { ...await loadOverview(app.db), poller: app.pollerLoad() };
}
