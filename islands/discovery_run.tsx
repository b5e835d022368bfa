/**
 * One discovery run: a live progress bar while it runs, then the devices it found with one
 * click to monitor them (with the profile's credential and the built-in plugin).
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, errorText } from "./api.ts";
import { fmtTime } from "../components/format.ts";
import type { RunSummary } from "../lib/web/page_data.ts";

export interface Run {
  id: number;
  discovery_profile_id: number | null;
  status: string;
  addresses_total: number;
  addresses_scanned: number;
  hosts_found: number;
  identified: number;
  failed: number;
  error: string | null;
  device_ids: number[];
}
interface Device {
  id: number;
  ip: string;
  hostname: string | null;
  os: string | null;
  status: string;
}

/** The latest runs, the one in progress included. */
export function RecentRuns({ runs }: { runs: RunSummary[] }) {
  if (runs.length === 0) return <p class="muted">No runs yet.</p>;
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Scanned</th>
            <th scope="col">Found</th>
            <th scope="col">Identified</th>
            <th scope="col">Started</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td>#{r.id}</td>
              <td>
                <span class={`badge s-${r.status}`}>{r.status}</span>
              </td>
              <td>{r.addresses_scanned} / {r.addresses_total}</td>
              <td>{r.hosts_found}</td>
              <td>{r.identified}</td>
              <td>{fmtTime(r.started)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export const FINISHED = new Set(["completed", "failed", "cancelled"]);

export function RunView({ run, pluginId, credentialId, canEdit }: {
  run: Run;
  pluginId: number | null;
  credentialId: number;
  canEdit: boolean;
}) {
  const devices = useSignal<Device[] | null>(null);
  const picked = useSignal<Set<number>>(new Set());
  const interval = useSignal("60");
  const message = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const done = FINISHED.has(run.status);
  useEffect(() => {
    if (!done) return;
    Promise.all(run.device_ids.slice(0, 200).map((id) => api<Device>("GET", `/devices/${id}`)))
      .then((list) => {
        devices.value = list;
        picked.value = new Set(list.filter((d) => d.status === "discovered").map((d) => d.id));
      }).catch((err) => error.value = errorText(err));
  }, [done, run.id]);
  const monitor = async () => {
    error.value = null;
    let made = 0;
    try {
      for (const id of picked.value) {
        await api("POST", "/monitors", {
          device_id: id,
          credential_profile_id: credentialId,
          plugin_id: pluginId,
          polling_interval: Number(interval.value),
        });
        made++;
      }
      message.value = `${made} monitor${made === 1 ? "" : "s"} created.`;
      devices.value = devices.value!.map((d) =>
        picked.value.has(d.id) ? { ...d, status: "monitoring" } : d
      );
      picked.value = new Set();
    } catch (err) {
      error.value = `${made} created, then: ${errorText(err)}`;
    }
  };
  return (
    <section class="card" aria-label={`Discovery run ${run.id}`} data-run-status={run.status}>
      <h2>
        Run #{run.id} <span class={`badge s-${run.status}`}>{run.status}</span>
      </h2>
      <progress
        max={run.addresses_total || 1}
        value={run.addresses_scanned}
        aria-label="Addresses scanned"
      />
      <p aria-live="polite">
        {run.addresses_scanned} of {run.addresses_total} addresses scanned · {run.hosts_found}{" "}
        hosts found · {run.identified} identified · {run.failed} not identified
      </p>
      {run.error && <p class="error">{run.error}</p>}
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {done && devices.value && devices.value.length === 0 && (
        <p class="muted">
          No Windows host answered. Check the target range, the ports and the credential.
        </p>
      )}
      {done && devices.value && devices.value.length > 0 && (
        <>
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Monitor</th>
                  <th scope="col">IP</th>
                  <th scope="col">Hostname</th>
                  <th scope="col">OS</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {devices.value.map((d) => (
                  <tr key={d.id}>
                    <td>
                      <input
                        type="checkbox"
                        aria-label={`Monitor ${d.ip}`}
                        disabled={!canEdit || d.status !== "discovered"}
                        checked={picked.value.has(d.id)}
                        onChange={(e) => {
                          const s = new Set(picked.value);
                          if (e.currentTarget.checked) s.add(d.id);
                          else s.delete(d.id);
                          picked.value = s;
                        }}
                      />
                    </td>
                    <td>
                      <a href={`/devices/${d.id}`}>{d.ip}</a>
                    </td>
                    <td>{d.hostname ?? "–"}</td>
                    <td>{d.os ?? "–"}</td>
                    <td>
                      <span class={`badge s-${d.status}`}>{d.status}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {canEdit && (
            <div class="row-form">
              <label>
                Interval (s)
                <input
                  type="number"
                  min={10}
                  max={86400}
                  value={interval.value}
                  onInput={(e) => interval.value = e.currentTarget.value}
                />
              </label>
              <button
                type="button"
                disabled={picked.value.size === 0 || pluginId === null}
                onClick={monitor}
              >
                Monitor these devices ({picked.value.size})
              </button>
            </div>
          )}
          {message.value && <p class="ok" role="status">{message.value}</p>}
        </>
      )}
    </section>
  );
}
