/**
 * One discovery run: live progress (addresses scanned, then hosts identified), the hosts found
 * but not identified with why, a cancel button while it runs, then the devices it found with
 * one click to monitor them (islands/discovery_run_list.tsx lists the runs).
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, ApiCallError, errorText } from "./api.ts";
import { Time } from "../components/Time.tsx";
import type { DiscoveryRunView, NamedOption } from "../lib/web/page_data.ts";
import { explainUnidentified } from "../lib/web/wording.ts";

interface Device {
  id: number;
  ip: string;
  hostname: string | null;
  os: string | null;
  status: string;
}

export const FINISHED = new Set(["completed", "failed", "cancelled"]);

export const STATUS_WORDS: Record<string, string> = {
  queued: "queued",
  running: "running",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
};

function duration(from: string | null, to: string | null): string {
  if (!from || !to) return "";
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

function Unidentified(
  { hosts, failed }: { hosts: DiscoveryRunView["unidentified"]; failed: number },
) {
  if (hosts.length === 0) return null;
  return (
    <details class="unidentified" open>
      <summary>
        <h3>Found but not identified ({failed})</h3>
      </summary>
      {failed > hosts.length && <p class="muted">The first {hosts.length} are listed.</p>}
      <div class="table-wrap">
        <table aria-label="Hosts not identified">
          <thead>
            <tr>
              <th scope="col">Host</th>
              <th scope="col">Why</th>
            </tr>
          </thead>
          <tbody>
            {hosts.map((h) => {
              const why = explainUnidentified(h.reason);
              return (
                <tr key={h.ip}>
                  <th scope="row">
                    {h.ip}
                    <br />
                    <span class="muted small">open: {h.open_ports.join(", ")}</span>
                  </th>
                  <td class="wrap">
                    <strong>{why.summary}</strong>
                    <br />
                    <span class="muted">{why.detail}</span>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </details>
  );
}

export function RunView({ run, profile, pluginId, credentials, credentialId, canEdit, onCancel }: {
  run: DiscoveryRunView;
  profile: string;
  pluginId: number | null;
  credentials: NamedOption[];
  /** the profile's credential; null when the profile is gone */
  credentialId: number | null;
  canEdit: boolean;
  onCancel: () => Promise<void>;
}) {
  const devices = useSignal<Device[] | null>(null);
  const picked = useSignal<Set<number>>(new Set());
  const interval = useSignal("60");
  const credential = useSignal(String(credentialId ?? credentials[0]?.id ?? ""));
  const message = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  const cancelling = useSignal(false);
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
    let existing = 0;
    try {
      for (const id of picked.value) {
        try {
          await api("POST", "/monitors", {
            device_id: id,
            credential_profile_id: Number(credential.value),
            plugin_id: pluginId,
            polling_interval: Number(interval.value),
          });
          made++;
        } catch (err) {
          // The same device, credential and plugin are already monitored: nothing to create.
          if (!(err instanceof ApiCallError) || err.status !== 409) throw err;
          existing++;
        }
      }
      message.value = `${made} monitor${made === 1 ? "" : "s"} created` +
        (existing ? `, ${existing} already monitored.` : ".");
      devices.value = devices.value!.map((d) =>
        picked.value.has(d.id) ? { ...d, status: "monitoring" } : d
      );
      picked.value = new Set();
    } catch (err) {
      error.value = `${made} created, then: ${errorText(err)}`;
    }
  };
  const cancel = async () => {
    cancelling.value = true;
    error.value = null;
    try {
      await onCancel();
    } catch (err) {
      error.value = errorText(err);
    } finally {
      cancelling.value = false;
    }
  };
  const checked = run.identified + run.failed;
  const waiting = Math.max(0, run.hosts_found - checked);
  const scanning = run.addresses_scanned < run.addresses_total;
  return (
    <section class="card run" aria-label={`Discovery run ${run.id}`} data-run-status={run.status}>
      <div class="run-head">
        <h2>
          Run #{run.id} · {profile}{" "}
          <span class={`badge s-${run.status}`}>{STATUS_WORDS[run.status] ?? run.status}</span>
        </h2>
        {canEdit && !done && (
          <button type="button" class="danger" disabled={cancelling.value} onClick={cancel}>
            {cancelling.value ? "Cancelling…" : "Cancel run"}
          </button>
        )}
      </div>
      <p class="muted">
        {run.started_at
          ? (
            <>
              Started <Time value={run.started_at} plain />
            </>
          )
          : "Waiting to start"}
        {run.started_at && !done &&
          ` · running for ${duration(run.started_at, new Date().toISOString())}`}
        {run.finished_at && (
          <>
            {" · ended "}
            <Time value={run.finished_at} plain />
            {` (${duration(run.started_at, run.finished_at)})`}
          </>
        )}
        {run.pinged ? ` · ${run.ping_replies} answered ping` : ""}
      </p>
      <div class="run-progress">
        <label for={`scan-${run.id}`}>Addresses scanned</label>
        <progress
          id={`scan-${run.id}`}
          max={run.addresses_total || 1}
          value={run.addresses_scanned}
          aria-label="Addresses scanned"
        />
        <p aria-live="polite" data-progress="scan">
          {run.addresses_scanned} of {run.addresses_total} addresses scanned · {run.hosts_found}
          {" "}
          hosts found
        </p>
        {run.hosts_found > 0 && (
          <>
            <label for={`identify-${run.id}`}>Hosts identified</label>
            <progress
              id={`identify-${run.id}`}
              max={run.hosts_found}
              value={checked}
              aria-label="Hosts identified"
            />
            <p aria-live="polite" data-progress="identify">
              {run.identified} identified · {run.failed} not identified
              {waiting > 0 && !done ? ` · ${waiting} being asked over WinRM` : ""}
            </p>
          </>
        )}
        {!done && (
          <p class="muted">
            {scanning
              ? "Scanning the range: each address is tried on the profile's ports."
              : waiting > 0
              ? "Scan finished; asking the hosts that answered who they are."
              : "Finishing…"}
          </p>
        )}
      </div>
      {run.error && <p class="error">The run failed: {run.error}</p>}
      {error.value && <p class="error" role="alert">{error.value}</p>}
      <Unidentified hosts={run.unidentified} failed={run.failed} />
      {done && devices.value && devices.value.length === 0 && (
        <p class="muted">
          {run.status === "cancelled"
            ? "Cancelled before any host was identified."
            : run.hosts_found > 0
            ? "No host could be identified: see why above."
            : "No Windows host answered. Check the target range, the ports and the credential."}
        </p>
      )}
      {done && devices.value && devices.value.length > 0 && (
        <>
          <h3>Identified devices ({devices.value.length})</h3>
          <div class="table-wrap">
            <table class="cards" aria-label="Identified devices">
              <thead>
                <tr>
                  {canEdit && <th scope="col">Monitor</th>}
                  <th scope="col">IP</th>
                  <th scope="col">Hostname</th>
                  <th scope="col">OS</th>
                  <th scope="col">Status</th>
                </tr>
              </thead>
              <tbody>
                {devices.value.map((d) => (
                  <tr key={d.id}>
                    {canEdit && (
                      <td class="pick">
                        <input
                          type="checkbox"
                          aria-label={`Monitor ${d.ip}`}
                          disabled={d.status !== "discovered"}
                          checked={picked.value.has(d.id)}
                          onChange={(e) => {
                            const s = new Set(picked.value);
                            if (e.currentTarget.checked) s.add(d.id);
                            else s.delete(d.id);
                            picked.value = s;
                          }}
                        />
                      </td>
                    )}
                    <td data-label="IP">
                      <a href={`/devices/${d.id}`}>{d.ip}</a>
                    </td>
                    <td data-label="Hostname">{d.hostname ?? "–"}</td>
                    <td data-label="OS">{d.os ?? "–"}</td>
                    <td data-label="Status">
                      <span class={`badge s-${d.status}`}>{d.status}</span>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {canEdit && (
            <div class="row-form">
              {credentialId === null && (
                <label>
                  Credential
                  <select
                    value={credential.value}
                    onChange={(e) => credential.value = e.currentTarget.value}
                  >
                    {credentials.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
                  </select>
                </label>
              )}
              <label>
                Interval (s)
                <input
                  type="number"
                  min={10}
                  max={86400}
                  value={interval.value}
                  onInput={(e) =>
                    interval.value = e.currentTarget.value}
                />
              </label>
              <button
                type="button"
                disabled={picked.value.size === 0 || pluginId === null || !credential.value}
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
