/**
 * A table of monitors: enable / disable (one, or the selected ones at once), change the
 * interval, delete, see when it last polled, how its attempts went and the last error; with
 * `create`, a form to add a monitor to that device. Viewers get the table only.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, errorText } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { MONITORS_CHANGED, type MonitorsChanged } from "./monitor_events.ts";
import { Time } from "../components/Time.tsx";
import type { MonitorRow, NamedOption } from "../lib/web/page_data.ts";

export interface MonitorEditorProps {
  monitors: MonitorRow[];
  canEdit: boolean;
  showDevice: boolean;
  /** selection checkboxes and "Enable / Disable selected" (editors only) */
  bulk?: boolean;
  create?: { device_id: number; credentials: NamedOption[]; plugins: NamedOption[] };
}

/** PUTs at once during a bulk change: enough to be quick, few enough to stay polite. */
const BULK_CONCURRENCY = 4;

/** When the monitor last polled successfully, and how the attempts since have gone. */
export function PollState({ m }: { m: MonitorRow }) {
  const failures = m.consecutive_failures;
  const attempts = failures === 1 ? "1 failed attempt" : `${failures} failed attempts`;
  if (m.last_polled) {
    return (
      <>
        <Time value={m.last_polled} />
        {failures > 0 && (
          <span class="bad small block">
            then {attempts}, last <Time value={m.last_attempted} />
          </span>
        )}
      </>
    );
  }
  if (m.last_attempted) {
    return (
      <>
        <span class="bad">never succeeded</span>
        <span class="small block">
          {attempts}, last <Time value={m.last_attempted} />
        </span>
      </>
    );
  }
  return <span class="muted">{m.enabled ? "not polled yet" : "never"}</span>;
}

function StateCell({ m }: { m: MonitorRow }) {
  const paused = m.enabled && (m.device_status === "unreachable" || m.device_status === "inactive");
  return (
    <>
      <span class={`badge ${m.enabled ? "s-monitoring" : "s-inactive"}`}>
        {m.enabled ? "enabled" : "disabled"}
      </span>
      {paused && (
        <span class="small block muted">
          not polled: device {m.device_status}
        </span>
      )}
    </>
  );
}

function Row({ m, canEdit, showDevice, selectable, selected, onSelect, onChange }: {
  m: MonitorRow;
  canEdit: boolean;
  showDevice: boolean;
  selectable: boolean;
  selected: boolean;
  onSelect: (on: boolean) => void;
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
      {selectable && (
        <td class="pick">
          <input
            type="checkbox"
            checked={selected}
            aria-label={`Select monitor ${m.id}`}
            onChange={(e) => onSelect(e.currentTarget.checked)}
          />
        </td>
      )}
      <td data-label="#">{m.id}</td>
      {showDevice && (
        <td data-label="Device">
          <a href={`/devices/${m.device_id}`}>{m.device_name}</a>
          {m.device_name !== m.device_ip && <span class="small muted block">{m.device_ip}</span>}
        </td>
      )}
      <td data-label="Plugin">
        {m.plugin_name}
        {m.plugin_name === WINDOWS_PLUGIN && (
          <ProfileSelect
            id={`pr-${m.id}`}
            label={`Collection profile of monitor ${m.id}`}
            value={String(m.config?.profile ?? "standard")}
            disabled={!canEdit || busy.value}
            onChange={(profile) =>
              run(put({ config: { ...m.config, profile } }), `Profile ${profile} saved.`)}
          />
        )}
      </td>
      <td data-label="Interval">
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
      <td data-label="State" class="state">
        <StateCell m={m} />
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
      <td data-label="Last poll">
        <PollState m={m} />
      </td>
      <td data-label="Last error" class="wrap">
        {m.last_error
          ? (
            <>
              <code>{m.last_error}</code>{" "}
              <span class="muted small">
                <Time value={m.last_error_at} />
              </span>
            </>
          )
          : "–"}
        {error.value && <p class="error" role="alert">{error.value}</p>}
        {note.value && !error.value && <p class="ok small" role="status">{note.value}</p>}
      </td>
      {canEdit && (
        <td data-label="Actions">
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

const WINDOWS_PLUGIN = "windows-winrm";
const PROFILES = {
  standard: "standard: CPU, memory, disks, network",
  extended: "extended: + services, processes, uptime, disk I/O, cores, page file",
  full: "full: + event log errors",
} as const;

function ProfileSelect({ id, label, value, disabled, onChange }: {
  id: string;
  label: string;
  value: string;
  disabled: boolean;
  onChange: (profile: string) => void;
}) {
  return (
    <span class="block small">
      <label class="sr-only" for={id}>{label}</label>
      <select
        id={id}
        name="profile"
        value={value}
        disabled={disabled}
        onChange={(e) => onChange(e.currentTarget.value)}
      >
        {Object.entries(PROFILES).map(([k, text]) => <option key={k} value={k}>{text}</option>)}
      </select>
    </span>
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
        const form = e.currentTarget;
        const f = new FormData(form);
        busy.value = true;
        try {
          await api("POST", "/monitors", {
            device_id: create.device_id,
            credential_profile_id: Number(f.get("credential")),
            plugin_id: Number(f.get("plugin")),
            polling_interval: Number(f.get("interval")),
            config: { profile: String(f.get("profile") ?? "standard") },
          });
          location.reload();
        } catch (err) {
          error.value = formErrorText(form, err);
          busy.value = false;
        }
      }}
    >
      <label>
        Credential profile
        <select name="credential" data-field="credential_profile_id">
          {create.credentials.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
        </select>
      </label>
      <label>
        Plugin
        <select name="plugin" data-field="plugin_id">
          {create.plugins.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
      </label>
      <label>
        Interval (s)
        <input
          name="interval"
          data-field="polling_interval"
          type="number"
          min={10}
          max={86400}
          defaultValue={60}
          required
        />
      </label>
      <label>
        Collection profile (Windows)
        <select name="profile" data-field="config">
          {Object.entries(PROFILES).map(([k, text]) => <option key={k} value={k}>{text}</option>)}
        </select>
      </label>
      <button type="submit" disabled={busy.value}>Add monitor</button>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </form>
  );
}

/** Runs `task` over `items`, at most `limit` at a time; the failures, in order. */
async function eachLimited<T>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<{ item: T; error: unknown }[]> {
  const failed: { item: T; error: unknown; at: number }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const at = next++;
      try {
        await task(items[at]);
      } catch (error) {
        failed.push({ item: items[at], error, at });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failed.sort((a, b) => a.at - b.at);
}

export default function MonitorEditor(props: MonitorEditorProps) {
  const rows = useSignal(props.monitors);
  // fresh state announced by another island of the page (a device's "Poll now")
  useEffect(() => {
    const merge = (e: Event) => {
      const fresh = new Map((e as MonitorsChanged).detail.map((m) => [m.id, m]));
      rows.value = rows.value.map((r) => {
        const m = fresh.get(r.id);
        return m
          ? {
            ...r,
            enabled: m.enabled ?? r.enabled,
            polling_interval: m.polling_interval ?? r.polling_interval,
            last_polled: m.last_polled ?? r.last_polled,
            last_attempted: m.last_attempted ?? r.last_attempted,
            consecutive_failures: m.consecutive_failures ?? r.consecutive_failures,
            last_error: m.last_error !== undefined ? m.last_error : r.last_error,
            last_error_at: m.last_error_at !== undefined ? m.last_error_at : r.last_error_at,
          }
          : r;
      });
    };
    addEventListener(MONITORS_CHANGED, merge);
    return () => removeEventListener(MONITORS_CHANGED, merge);
  }, []);
  const selected = useSignal<ReadonlySet<number>>(new Set());
  const bulkBusy = useSignal(false);
  const bulkNote = useSignal<{ ok: boolean; text: string } | null>(null);
  const { canEdit, showDevice } = props;
  const selectable = canEdit && !!props.bulk;
  const ids = rows.value.map((r) => r.id);
  const chosen = ids.filter((id) => selected.value.has(id));
  const allChosen = ids.length > 0 && chosen.length === ids.length;

  const setEnabled = async (enabled: boolean) => {
    const targets = rows.value.filter((r) => selected.value.has(r.id) && r.enabled !== enabled);
    bulkBusy.value = true;
    bulkNote.value = null;
    const failed = await eachLimited(targets, BULK_CONCURRENCY, async (m) => {
      const updated = await api<MonitorRow>("PUT", `/monitors/${m.id}`, { enabled });
      rows.value = rows.value.map((r) => r.id === m.id ? { ...r, ...updated } : r);
    });
    bulkBusy.value = false;
    const verb = enabled ? "Enabled" : "Disabled";
    const done = targets.length - failed.length;
    const already = chosen.length - targets.length;
    let text = `${verb} ${done} monitor${done === 1 ? "" : "s"}`;
    if (already > 0) text += ` (${already} already ${enabled ? "enabled" : "disabled"})`;
    if (failed.length) {
      text += `; ${failed.length} failed: ` +
        failed.map((f) => `#${f.item.id}: ${errorText(f.error)}`).join("; ");
    }
    bulkNote.value = { ok: failed.length === 0, text: `${text}.` };
  };

  return (
    <div>
      {selectable && rows.value.length > 0 && (
        <div class="bulk toolbar" role="group" aria-label="Selected monitors">
          <label class="check">
            <input
              type="checkbox"
              checked={allChosen}
              onChange={(e) =>
                selected.value = new Set(e.currentTarget.checked ? ids : [])}
            />{" "}
            Select all on this page
          </label>
          <span>{chosen.length} selected</span>
          <button
            type="button"
            class="secondary"
            disabled={bulkBusy.value || chosen.length === 0}
            onClick={() =>
              setEnabled(true)}
          >
            Enable selected
          </button>
          <button
            type="button"
            class="secondary"
            disabled={bulkBusy.value || chosen.length === 0}
            onClick={() =>
              setEnabled(false)}
          >
            Disable selected
          </button>
          {bulkBusy.value && <span class="muted" role="status">Working…</span>}
          {bulkNote.value && (
            <span class={bulkNote.value.ok ? "ok" : "error"} role="status">
              {bulkNote.value.text}
            </span>
          )}
        </div>
      )}
      {rows.value.length === 0 ? <p class="muted">No monitors yet.</p> : (
        <div class="table-wrap">
          <table class="cards">
            <thead>
              <tr>
                {selectable && (
                  <th scope="col" class="pick">
                    <span class="sr-only">Selected</span>
                  </th>
                )}
                <th scope="col">#</th>
                {showDevice && <th scope="col">Device</th>}
                <th scope="col">Plugin</th>
                <th scope="col">Interval</th>
                <th scope="col">State</th>
                <th scope="col">Last poll</th>
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
                  selectable={selectable}
                  selected={selected.value.has(m.id)}
                  onSelect={(on) => {
                    const next = new Set(selected.value);
                    if (on) next.add(m.id);
                    else next.delete(m.id);
                    selected.value = next;
                  }}
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
