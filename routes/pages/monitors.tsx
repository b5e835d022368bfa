/** /monitors : every monitor (or ?failing=1 those that failed in the last hour), and plugins. */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { EmptyState } from "../../components/Layout.tsx";
import { loadMonitorRows } from "../../lib/db/monitor_rows.ts";
import { pluginsRepo } from "../../lib/db/plugins.ts";

export const monitorsPage: Page = {
  path: "/monitors",
  async get(c, view) {
    const db = c.get("app").db;
    const failing = c.req.query("failing") === "1";
    const [monitors, { items: plugins }] = await Promise.all([
      loadMonitorRows(db, { failing }),
      pluginsRepo.list(db, { limit: 200, offset: 0, sort: "id" }),
    ]);
    return view.page(
      c,
      "Monitors",
      <>
        <h1>Monitors{failing ? " failing in the last hour" : ""}</h1>
        {failing && (
          <p>
            <a href="/monitors">Show all monitors</a>
          </p>
        )}
        {monitors.length === 0 && !failing
          ? (
            <EmptyState title="No monitors yet">
              Open a <a href="/devices">device</a>{" "}
              and add a monitor, or use “Monitor these devices” on a finished{" "}
              <a href="/discovery">discovery</a> run.
            </EmptyState>
          )
          : (
            <Island
              of={islands.MonitorEditor}
              props={{ monitors, canEdit: canEdit(c), showDevice: true }}
            />
          )}
        <h2>Plugins</h2>
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Description</th>
              </tr>
            </thead>
            <tbody>
              {plugins.map((p) => (
                <tr key={p.id}>
                  <td>{p.id}</td>
                  <td>{p.name}</td>
                  <td>{p.type}</td>
                  <td>{p.description}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <p class="muted small">
          Exec plugins are added through the API (<a href="/api/v1/docs">POST /api/v1/plugins</a>).
        </p>
      </>,
    );
  },
};
