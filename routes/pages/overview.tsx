/** / : the overview, and /overview.json which its island polls. */
import type { Hono } from "hono";
import type { AppEnv } from "../http/env.ts";
import type { View } from "./view.tsx";
import { loadOverview } from "../../lib/db/overview_reads.ts";
import { Island } from "../../components/Island.tsx";
import Overview from "../../islands/Overview.tsx";
import { EmptyState } from "../../components/Layout.tsx";

export function registerOverviewPage(app: Hono<AppEnv>, view: View): void {
  app.get("/overview.json", async (c) => c.json(await loadOverview(c.get("app").db)));
  app.get("/", async (c) => {
    const data = await loadOverview(c.get("app").db);
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
        <Island name="Overview" component={Overview} props={{ initial: data }} />
      </>,
    );
  });
}
