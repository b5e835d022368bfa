/**
 * /devices: search, status filter, sorting and pagination as plain links and a GET form, so
 * the table works (and is bookmarkable) without any script.
 */
import { canEdit, type Page } from "./view.tsx";
import {
  type Device,
  DEVICE_STATUSES,
  devicesRepo,
  type DeviceStatus,
} from "../../lib/db/devices.ts";
import { EmptyState, StatusBadge } from "../../components/Layout.tsx";
import { Time } from "../../components/Time.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { sitesRepo } from "../../lib/db/sites.ts";

const PAGE_SIZE = 25;
const SORTS = {
  ip: "IP",
  hostname: "Hostname",
  status: "Status",
  os: "OS",
  last_seen: "Last seen",
};
type SortKey = keyof typeof SORTS;

interface Query {
  q: string;
  status: DeviceStatus | "";
  sort: SortKey;
  order: "asc" | "desc";
  page: number;
}

function href(q: Query, change: Partial<Query>): string {
  const p = { ...q, ...change };
  const s = new URLSearchParams();
  if (p.q) s.set("q", p.q);
  if (p.status) s.set("status", p.status);
  if (p.sort !== "ip") s.set("sort", p.sort);
  if (p.order !== "asc") s.set("order", p.order);
  if (p.page > 1) s.set("page", String(p.page));
  const text = s.toString();
  return text ? `/devices?${text}` : "/devices";
}

function SortHeader({ q, k }: { q: Query; k: SortKey }) {
  const active = q.sort === k;
  const order = active && q.order === "asc" ? "desc" : "asc";
  return (
    <th scope="col" aria-sort={active ? (q.order === "asc" ? "ascending" : "descending") : "none"}>
      <a href={href(q, { sort: k, order, page: 1 })}>
        {SORTS[k]} {active ? (q.order === "asc" ? "▲" : "▼") : ""}
      </a>
    </th>
  );
}

function DevicesTable(
  { q, rows, total, sites }: {
    q: Query;
    rows: Device[];
    total: number;
    /** site id -> name */
    sites: Map<number, string>;
  },
) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return (
    <>
      <form method="get" action="/devices" class="filters" role="search">
        <label>
          Search <input type="search" name="q" value={q.q} placeholder="IP or hostname" />
        </label>
        <label>
          Status
          <select name="status">
            <option value="">any</option>
            {DEVICE_STATUSES.map((s) => (
              <option key={s} value={s} selected={q.status === s}>{s}</option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
      </form>
      {rows.length === 0
        ? (
          <EmptyState title={q.q || q.status ? "No device matches" : "No devices yet"}>
            {q.q || q.status
              ? (
                <>
                  Try another search or <a href="/devices">clear the filters</a>.
                </>
              )
              : (
                <>
                  Run a <a href="/discovery">discovery</a>{" "}
                  to find the Windows hosts on your network.
                </>
              )}
          </EmptyState>
        )
        : (
          <div class="table-wrap">
            <table class="cards">
              <caption>{total} device{total === 1 ? "" : "s"}</caption>
              <thead>
                <tr>
                  <SortHeader q={q} k="ip" />
                  <SortHeader q={q} k="hostname" />
                  <SortHeader q={q} k="status" />
                  <SortHeader q={q} k="os" />
                  <SortHeader q={q} k="last_seen" />
                  <th scope="col">Site</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((d) => (
                  <tr key={d.id} data-device={d.id}>
                    <td data-label="IP">
                      <a href={`/devices/${d.id}`}>{d.ip}</a>
                    </td>
                    <td data-label="Hostname">{d.hostname ?? "–"}</td>
                    <td data-label="Status">
                      <StatusBadge status={d.status} />
                      {d.status === "unreachable" && d.status_reason && (
                        <span class="small muted block reason" title={d.status_reason}>
                          {d.status_reason.length > 90
                            ? `${d.status_reason.slice(0, 89)}…`
                            : d.status_reason}
                        </span>
                      )}
                    </td>
                    <td data-label="OS">{d.os ?? "–"}</td>
                    <td data-label="Last seen">
                      <Time value={d.last_seen} />
                    </td>
                    <td data-label="Site">{sites.get(d.site_id) ?? d.site_id}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      {pages > 1 && (
        <nav class="pager" aria-label="Pages">
          {q.page > 1 && <a href={href(q, { page: q.page - 1 })} rel="prev">Previous</a>}
          <span>Page {q.page} of {pages}</span>
          {q.page < pages && <a href={href(q, { page: q.page + 1 })} rel="next">Next</a>}
        </nav>
      )}
    </>
  );
}

export const devicesPage: Page = {
  path: "/devices",
  async get(c, view) {
    const status = c.req.query("status") ?? "";
    const sort = c.req.query("sort") ?? "ip";
    const q: Query = {
      q: (c.req.query("q") ?? "").replaceAll("\0", "").slice(0, 100),
      status: (DEVICE_STATUSES as readonly string[]).includes(status) ? status as DeviceStatus : "",
      sort: sort in SORTS ? sort as SortKey : "ip",
      order: c.req.query("order") === "desc" ? "desc" : "asc",
      page: Math.max(1, Math.min(100_000, Number(c.req.query("page")) || 1)),
    };
    const page = await devicesRepo.list(
      c.get("app").db,
      { limit: PAGE_SIZE, offset: (q.page - 1) * PAGE_SIZE, sort: q.sort, order: q.order },
      { status: q.status || undefined, q: q.q || undefined },
    );
    const sites = new Map(
      (await sitesRepo.list(c.get("app").db, { limit: 1000, offset: 0 })).items.map((
        s,
      ) => [s.id, s.name]),
    );
    return view.page(
      c,
      "Devices",
      <>
        <h1>Devices</h1>
        {canEdit(c) && <Island of={islands.DeviceAdd} props={{}} />}
        <DevicesTable q={q} rows={page.items} total={page.total} sites={sites} />
        <Island of={islands.LocalTimes} props={{}} />
      </>,
    );
  },
};
