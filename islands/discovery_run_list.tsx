/** The latest discovery runs, the one in progress included; each opens in the run view. */
import { Time } from "../components/Time.tsx";
import type { RunSummary } from "../lib/web/page_data.ts";
import { STATUS_WORDS } from "./discovery_run.tsx";

export function RecentRuns({ runs, profileName, onOpen, openId }: {
  runs: RunSummary[];
  profileName: (id: number | null) => string;
  onOpen: (id: number) => void;
  openId: number | null;
}) {
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Profile</th>
            <th scope="col">Status</th>
            <th scope="col">Scanned</th>
            <th scope="col">Found</th>
            <th scope="col">Identified</th>
            <th scope="col">Not identified</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id} aria-current={r.id === openId ? "true" : undefined}>
              <td>
                <a
                  href={`/discovery?run=${r.id}`}
                  onClick={(e) => {
                    e.preventDefault();
                    onOpen(r.id);
                  }}
                >
                  Run #{r.id}
                </a>
              </td>
              <td>{profileName(r.discovery_profile_id)}</td>
              <td>
                <span class={`badge s-${r.status}`}>{STATUS_WORDS[r.status] ?? r.status}</span>
              </td>
              <td>{r.addresses_scanned} / {r.addresses_total}</td>
              <td>{r.hosts_found}</td>
              <td>{r.identified}</td>
              <td>{r.failed}</td>
              <td>
                <Time value={r.started} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
