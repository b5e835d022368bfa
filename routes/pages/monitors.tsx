/**
 * /monitors : every monitor, 50 a page, searchable (device name or IP, plugin, error text) and
 * filtered by state (enabled, disabled, failed in the last hour; ?failing=1 still works), as a
 * GET form and plain links so it is bookmarkable; the rows are the MonitorEditor island with
 * selection for enabling or disabling many at once. Below, the plugins.
 */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { EmptyState } from "../../components/Layout.tsx";
import { loadMonitorPage, type MonitorFilter } from "../../lib/db/monitor_rows.ts";
import { pluginsRepo } from "../../lib/db/plugins.ts";

const STATES = { "": "any", enabled: "enabled", disabled: "disabled", failing: "failing (1 h)" };
type State = keyof typeof STATES;
const SIZES = [25, 50, 100, 200] as const;
const DEFAULT_SIZE = 50;

interface Query {
  q: string;
  state: State;
  per: number;
  page: number;
}

function href(q: Query, change: Partial<Query>): string {
  const p = { ...q, ...change };
  const s = new URLSearchParams();
  if (p.q) s.set("q", p.q);
  if (p.state) s.set("state", p.state);
  if (p.per !== DEFAULT_SIZE) s.set("per", String(p.per));
  if (p.page > 1) s.set("page", String(p.page));
  const text = s.toString();
  return text ? `/monitors?${text}` : "/monitors";
}

function parseQuery(get: (k: string) => string | undefined): Query {
  const state = get("state") ?? (get("failing") === "1" ? "failing" : "");
  const per = Number(get("per"));
  return {
    q: (get("q") ?? "").replaceAll("\0", "").trim().slice(0, 100),
    state: state in STATES ? state as State : "",
    per: (SIZES as readonly number[]).includes(per) ? per : DEFAULT_SIZE,
    page: Math.max(1, Math.min(100_000, Math.floor(Number(get("page"))) || 1)),
  };
}

function Pager({ q, total }: { q: Query; total: number }) {
  const pages = Math.max(1, Math.ceil(total / q.per));
  if (pages <= 1) return null;
  return (
    <nav class="pager" aria-label="Pages">
      {q.page > 1 && <a href={href(q, { page: 1 })}>First</a>}
      {q.page > 1 && <a href={href(q, { page: q.page - 1 })} rel="prev">Previous</a>}
      <span>Page {Math.min(q.page, pages)} of {pages}</span>
      {q.page < pages && <a href={href(q, { page: q.page + 1 })} rel="next">Next</a>}
      {q.page < pages && <a href={href(q, { page: pages })}>Last</a>}
    </nav>
  );
}

export const monitorsPage: Page = {
  path: "/monitors",
  async get(c, view) {
    const db = c.get("app").db;
    const q = parseQuery((k) => c.req.query(k));
    const filter: MonitorFilter = {
      q: q.q || undefined,
      failing: q.state === "failing" || undefined,
      enabled: q.state === "enabled" ? true : q.state === "disabled" ? false : undefined,
    };
    const [{ rows, total }, { items: plugins }] = await Promise.all([
      loadMonitorPage(db, filter, { limit: q.per, offset: (q.page - 1) * q.per }),
      pluginsRepo.list(db, { limit: 200, offset: 0, sort: "id" }),
    ]);
    const filtered = q.q !== "" || q.state !== "";
    const first = (q.page - 1) * q.per + 1;
    return view.page(
      c,
      "Monitors",
      <>
        <h1>Monitors{q.state === "failing" ? " failing in the last hour" : ""}</h1>
        {total === 0 && !filtered
          ? (
            <EmptyState title="No monitors yet">
              Open a <a href="/devices">device</a>{" "}
              and add a monitor, or use “Monitor these devices” on a finished{" "}
              <a href="/discovery">discovery</a> run.
            </EmptyState>
          )
          : (
            <>
              <form method="get" action="/monitors" class="filters" role="search">
                <label>
                  Search{" "}
                  <input
                    type="search"
                    name="q"
                    value={q.q}
                    maxLength={100}
                    placeholder="device, IP, plugin or error"
                  />
                </label>
                <label>
                  State
                  <select name="state">
                    {Object.entries(STATES).map(([k, label]) => (
                      <option key={k} value={k} selected={q.state === k}>{label}</option>
                    ))}
                  </select>
                </label>
                <label>
                  Per page
                  <select name="per">
                    {SIZES.map((n) => <option key={n} value={n} selected={q.per === n}>{n}
                    </option>)}
                  </select>
                </label>
                <button type="submit">Filter</button>
                {filtered && <a href="/monitors">Clear</a>}
              </form>
              <p class="muted" role="status" id="monitor-count">
                {total === 0
                  ? "No monitor matches."
                  : rows.length === 0
                  ? `${total} monitor${total === 1 ? "" : "s"}; this page is past the end.`
                  : `${first}–${first + rows.length - 1} of ${total} monitor${
                    total === 1 ? "" : "s"
                  }`}
              </p>
              {rows.length > 0 && (
                <Island
                  of={islands.MonitorEditor}
                  props={{ monitors: rows, canEdit: canEdit(c), showDevice: true, bulk: true }}
                />
              )}
              <Pager q={q} total={total} />
            </>
          )}
        <Island of={islands.LocalTimes} props={{}} />
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
