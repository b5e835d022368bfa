/**
 * Pollers (admins only): the sites and their poller nodes with what each last reported; add a
 * site, add a node (its enrolment token is shown once, here), revoke a node.
 */
import { useSignal } from "@preact/signals";
import { api, errorText } from "./api.ts";

export interface PollerNodeRow {
  id: number;
  site: string;
  name: string;
  status: string;
  version: string | null;
  last_heartbeat: string | null;
  monitors: number | null;
  polls_per_s: number | null;
  buffered: number | null;
}

export interface SiteRow {
  id: number;
  name: string;
}

export default function PollerNodes(
  { nodes, sites }: { nodes: PollerNodeRow[]; sites: SiteRow[] },
) {
  const rows = useSignal(nodes);
  const siteList = useSignal(sites);
  const error = useSignal<string | null>(null);
  const token = useSignal<{ name: string; token: string } | null>(null);
  const act = async (fn: () => Promise<void>) => {
    error.value = null;
    try {
      await fn();
    } catch (err) {
      error.value = errorText(err);
    }
  };
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {token.value && (
        <div class="ok" role="status">
          <p>
            Enrolment token for <strong>{token.value.name}</strong> (shown once; start the node with
            {" "}
            <code>NMSLITE_ENROLMENT_TOKEN</code> set to it):
          </p>
          <pre>{token.value.token}</pre>
        </div>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Node</th>
              <th scope="col">Site</th>
              <th scope="col">Version</th>
              <th scope="col">Status</th>
              <th scope="col">Last heartbeat</th>
              <th scope="col">Monitors</th>
              <th scope="col">Polls/s</th>
              <th scope="col">Buffered</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.value.map((n) => (
              <tr key={n.id}>
                <td>{n.name}</td>
                <td>{n.site}</td>
                <td>{n.version ?? "–"}</td>
                <td>{n.status}</td>
                <td>{n.last_heartbeat ?? "never"}</td>
                <td>{n.monitors ?? "–"}</td>
                <td>{n.polls_per_s ?? "–"}</td>
                <td>{n.buffered ?? "–"}</td>
                <td>
                  {n.status !== "revoked" && (
                    <button
                      type="button"
                      class="danger"
                      onClick={() => {
                        if (!confirm(`Revoke poller node ${n.name}?`)) return;
                        act(async () => {
                          await api("POST", `/poller-nodes/${n.id}/revoke`);
                          rows.value = rows.value.map((x) =>
                            x.id === n.id ? { ...x, status: "revoked" } : x
                          );
                        });
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          const name = String(f.get("name"));
          act(async () => {
            const node = await api<{ id: number; enrolment_token: string; site: string }>(
              "POST",
              "/poller-nodes",
              { site_id: Number(f.get("site_id")), name },
            );
            token.value = { name, token: node.enrolment_token };
            rows.value = [...rows.value, {
              id: node.id,
              site: node.site,
              name,
              status: "pending",
              version: null,
              last_heartbeat: null,
              monitors: null,
              polls_per_s: null,
              buffered: null,
            }];
          });
        }}
      >
        <h2>Add a poller node</h2>
        <label>
          Site{" "}
          <select name="site_id">
            {siteList.value.filter((s) => s.id !== 1).map((s) => (
              <option key={s.id} value={s.id}>{s.name}</option>
            ))}
          </select>
        </label>{" "}
        <label>
          Name <input name="name" required maxLength={64} />
        </label>{" "}
        <button type="submit">Add node</button>
      </form>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const f = new FormData(e.currentTarget);
          act(async () => {
            const site = await api<SiteRow>("POST", "/sites", { name: String(f.get("name")) });
            siteList.value = [...siteList.value, { id: site.id, name: site.name }];
          });
        }}
      >
        <h2>Add a site</h2>
        <label>
          Name <input name="name" required maxLength={64} />
        </label>{" "}
        <button type="submit">Add site</button>
      </form>
    </div>
  );
}
