/**
 * A table of monitors: enable / disable, change the interval, delete, see the last error;
 * with `create`, a form to add a monitor to that device. Viewers get the table only.
 */
import { useSignal } from "@preact/signals";
import { api, errorText } from "./api.ts";
import { fmtTime } from "../components/format.ts";
import type { MonitorRow, NamedOption } from "../lib/web/page_data.ts";

export interface MonitorEditorProps {
  monitors: MonitorRow[];
  canEdit: boolean;
  showDevice: boolean;
  create?: { device_id: number; credentials: NamedOption[]; plugins: NamedOption[] };
}

function Row({ m, canEdit, showDevice, onChange }: {
  m: MonitorRow;
  canEdit: boolean;
  showDevice: boolean;
  onChange: (m: MonitorRow | null) => void;
}) {
  const interval = useSignal(String(m.polling_interval));
  const busy = useSignal(false);
  const error = useSignal<string | null>(null);
  const note = useSignal<string | null>(null);
  const run = async (what: () => Promise<MonitorRow | null>, done: string) => {
    busy.value = true;
    error.value = null;
    try {
      onChange(await what());
      note.value = done;
    } catch (err) {
      error.value = errorText(err);
    } finally {
      busy.value = false;
    }
  };
  const put = (body: unknown) => async () => ({
    ...m,
    ...await api<MonitorRow>("PUT", `/monitors/${m.id}`, body),
  });
  return (
    <tr data-monitor={m.id}>
      <td>{m.id}</td>
      {showDevice && (
        <td>
          <a href={`/devices/${m.device_id}`}>{m.device_name}</a>
        </td>
      )}
      <td>{m.plugin_name}</td>
      <td>
        {canEdit
          ? (
            <form
              class="inline"
              onSubmit={(e) => {
                e.preventDefault();
                run(put({ polling_interval: Number(interval.value) }), "Interval saved.");
              }}
            >
              <label class="sr-only" for={`iv-${m.id}`}>Interval of monitor {m.id} (seconds)</label>
              <input
                id={`iv-${m.id}`}
                name="interval"
                type="number"
                min={10}
                max={86400}
                required
                value={interval.value}
                onInput={(e) => interval.value = e.currentTarget.value}
              />
              <button type="submit" class="secondary" disabled={busy.value}>Save</button>
            </form>
          )
          : `${m.polling_interval} s`}
      </td>
      <td>
        <span class={`badge ${m.enabled ? "s-monitoring" : "s-inactive"}`}>
          {m.enabled ? "enabled" : "disabled"}
        </span>
        {canEdit && (
          <button
            type="button"
            class="secondary"
            disabled={busy.value}
            onClick={() => run(put({ enabled: !m.enabled }), m.enabled ? "Disabled." : "Enabled.")}
          >
            {m.enabled ? "Disable" : "Enable"}
          </button>
        )}
      </td>
      <td>{fmtTime(m.last_polled)}</td>
      <td class="wrap">
        {m.last_error
          ? (
            <>
              <code>{m.last_error}</code>{" "}
              <span class="muted small">{fmtTime(m.last_error_at)}</span>
            </>
          )
          : "–"}
        {error.value && <p class="error" role="alert">{error.value}</p>}
        {note.value && !error.value && <p class="ok small" role="status">{note.value}</p>}
      </td>
      {canEdit && (
        <td>
          <button
            type="button"
            class="danger"
            disabled={busy.value}
            onClick={() => {
              if (confirm(`Delete monitor ${m.id} and its metrics?`)) {
                run(async () => {
                  await api("DELETE", `/monitors/${m.id}`);
                  return null;
                }, "Deleted.");
              }
            }}
          >
            Delete
          </button>
        </td>
      )}
    </tr>
  );
}

function CreateForm({ create }: { create: NonNullable<MonitorEditorProps["create"]> }) {
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  if (create.credentials.length === 0) {
    return (
      <p class="muted">
        Add a <a href="/credentials">credential profile</a> first; a monitor logs in with one.
      </p>
    );
  }
  return (
    <form
      class="row-form"
      onSubmit={async (e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        busy.value = true;
        try {
          await api("POST", "/monitors", {
            device_id: create.device_id,
            credential_profile_id: Number(f.get("credential")),
            plugin_id: Number(f.get("plugin")),
            polling_interval: Number(f.get("interval")),
          });
          location.reload();
        } catch (err) {
          error.value = errorText(err);
          busy.value = false;
        }
      }}
    >
      <label>
        Credential profile
        <select name="credential">
          {create.credentials.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
        </select>
      </label>
      <label>
        Plugin
        <select name="plugin">
          {create.plugins.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
      </label>
      <label>
        Interval (s)
        <input name="interval" type="number" min={10} max={86400} value={60} required />
      </label>
      <button type="submit" disabled={busy.value}>Add monitor</button>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </form>
  );
}

export default function MonitorEditor(props: MonitorEditorProps) {
  const rows = useSignal(props.monitors);
  const { canEdit, showDevice } = props;
  return (
    <div>
      {rows.value.length === 0 ? <p class="muted">No monitors yet.</p> : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">#</th>
                {showDevice && <th scope="col">Device</th>}
                <th scope="col">Plugin</th>
                <th scope="col">Interval</th>
                <th scope="col">State</th>
                <th scope="col">Last polled</th>
                <th scope="col">Last error</th>
                {canEdit && (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {rows.value.map((m) => (
                <Row
                  key={m.id}
                  m={m}
                  canEdit={canEdit}
                  showDevice={showDevice}
                  onChange={(next) =>
                    rows.value = next
                      ? rows.value.map((r) => r.id === m.id ? next : r)
                      : rows.value.filter((r) => r.id !== m.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {canEdit && props.create && <CreateForm create={props.create} />}
    </div>
  );
}
