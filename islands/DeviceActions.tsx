/**
 * What an operator does to one device: poll it now (and see how the polls went), re-enable it
 * after `unreachable` (or stop polling it), edit its descriptive fields, delete it (with its
 * monitors and their metrics, after saying how many). Only rendered for editors.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { api, errorText } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { Time } from "../components/Time.tsx";
import { announceMonitors } from "./monitor_events.ts";
import type { Device } from "../lib/db/devices.ts";

export type DeviceFacts =
  & Pick<Device, "id" | "ip" | "hostname" | "domain" | "os" | "os_version" | "serial_number">
  & { status: string };

export interface DeviceActionsProps {
  device: DeviceFacts;
  /** monitor ids of the device, and how many are enabled */
  monitors: number[];
  enabledMonitors: number;
}

interface MonitorState {
  id: number;
  enabled: boolean;
  polling_interval: number;
  last_attempted: string | null;
  last_polled: string | null;
  last_error: string | null;
  last_error_at: string | null;
  consecutive_failures: number;
}

const FIELDS = [
  ["hostname", "Hostname", 255],
  ["domain", "Domain", 255],
  ["os", "OS", 255],
  ["os_version", "OS version", 100],
  ["serial_number", "Serial number", 100],
] as const;

/** How long "Poll now" waits for the outcome before saying it is still on its way. */
const WAIT_MS = 90_000;

interface PollResult {
  id: number;
  ok: boolean;
  error: string | null;
  at: string;
}

type PollView =
  | { phase: "running"; monitors: number[] }
  | { phase: "done"; results: PollResult[]; skipped: number[]; busy: number[] }
  | { phase: "late"; monitors: number[] };

const stateOf = (id: number) =>
  api<MonitorState[]>("GET", `/monitors?device_id=${id}&limit=500`).then((rows) =>
    new Map(rows.map((m) => [m.id, m]))
  );

function PollNow({ device, enabledMonitors }: DeviceActionsProps) {
  const view = useSignal<PollView | null>(null);
  const error = useSignal<string | null>(null);
  const paused = device.status === "unreachable" || device.status === "inactive";
  const alive = useRef(true);
  useEffect(() => () => void (alive.current = false), []);
  const start = async () => {
    error.value = null;
    const startedAt = Date.now();
    try {
      // the outcome of each poll is the monitor's next attempt: compare with the one before
      const before = await stateOf(device.id);
      const r = await api<{ polled: number[]; skipped: number[]; busy: number[] }>(
        "POST",
        `/devices/${device.id}/poll`,
      );
      view.value = { phase: "running", monitors: r.polled };
      while (alive.current && Date.now() - startedAt < WAIT_MS) {
        const now = await stateOf(device.id);
        const fresh = r.polled.map((id) => now.get(id)).filter((m): m is MonitorState =>
          !!m?.last_attempted && m.last_attempted !== before.get(m.id)?.last_attempted
        );
        if (fresh.length === r.polled.length) {
          // the monitors table of this page shows the new state at once
          announceMonitors([...now.values()]);
          view.value = {
            phase: "done",
            skipped: r.skipped,
            busy: r.busy ?? [],
            results: fresh.map((m) => {
              const ok = m.last_polled === m.last_attempted;
              return { id: m.id, ok, error: ok ? null : m.last_error, at: m.last_attempted! };
            }),
          };
          return;
        }
        await new Promise((res) => setTimeout(res, 1_000));
      }
      if (alive.current) view.value = { phase: "late", monitors: r.polled };
    } catch (err) {
      error.value = errorText(err);
      view.value = null;
    }
  };
  const v = view.value;
  const running = v?.phase === "running";
  return (
    <div class="poll-now">
      <button
        type="button"
        disabled={running || paused || enabledMonitors === 0}
        onClick={start}
        title={paused
          ? `the device is ${device.status}: re-enable it first`
          : enabledMonitors === 0
          ? "the device has no enabled monitor"
          : "poll every enabled monitor of this device now"}
      >
        {running ? "Polling…" : "Poll now"}
      </button>
      <div role="status" aria-live="polite" class="small">
        {running && <span class="muted">Polling {v.monitors.length} monitor(s)…</span>}
        {v?.phase === "late" && (
          <span class="muted">
            No outcome yet after {WAIT_MS / 1000}{" "}
            s; the poll may still be running (see the monitors below after a reload).
          </span>
        )}
        {v?.phase === "done" && (
          <ul class="plain" data-poll-result>
            {v.results.map((r) => (
              <li key={r.id} class={r.ok ? "ok" : "error"}>
                Monitor #{r.id}: {r.ok ? "poll succeeded" : `poll failed: ${r.error ?? "error"}`}
                {" "}
                <Time value={r.at} />
              </li>
            ))}
            {v.skipped.map((id) => (
              <li key={id} class="muted">
                Monitor #{id}: polled by hand moments ago, not again yet
              </li>
            ))}
            {v.busy.map((id) => (
              <li key={id} class="muted">
                Monitor #{id}: a poll is already queued or running, not started twice
              </li>
            ))}
            {v.results.some((r) => r.ok) && (
              <li>
                <a href={`/devices/${device.id}`}>Reload to see the new sample</a>
              </li>
            )}
          </ul>
        )}
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </div>
  );
}

function EditForm({ device, onDone }: { device: DeviceFacts; onDone(): void }) {
  const busy = useSignal(false);
  const error = useSignal<string | null>(null);
  return (
    <form
      class="card stack"
      aria-label={`Edit device ${device.ip}`}
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        const body: Record<string, string | null> = {};
        for (const [key] of FIELDS) {
          const v = String(f.get(key) ?? "").trim();
          if (v !== (device[key] ?? "")) body[key] = v === "" ? null : v;
        }
        if (Object.keys(body).length === 0) return onDone();
        busy.value = true;
        error.value = null;
        try {
          await api("PUT", `/devices/${device.id}`, body);
          location.reload();
        } catch (err) {
          error.value = formErrorText(form, err);
          busy.value = false;
        }
      }}
    >
      <p class="muted small">
        Discovery fills these in; what you enter here stays until a later discovery run identifies
        the host again. The IP address cannot change: add the new address as a device.
      </p>
      {FIELDS.map(([key, label, max]) => (
        <label key={key}>
          {label}
          <input name={key} maxLength={max} defaultValue={device[key] ?? ""} />
        </label>
      ))}
      <div class="actions">
        <button type="submit" disabled={busy.value}>Update device</button>
        <button type="button" class="secondary" onClick={onDone}>Cancel</button>
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </form>
  );
}

export default function DeviceActions(props: DeviceActionsProps) {
  const { device, monitors } = props;
  const editing = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal<string | null>(null);
  const name = device.hostname ?? device.ip;
  const setStatus = async (status: string) => {
    busy.value = true;
    error.value = null;
    try {
      await api("PUT", `/devices/${device.id}`, { status });
      location.reload();
    } catch (err) {
      error.value = errorText(err);
      busy.value = false;
    }
  };
  const remove = async () => {
    const n = monitors.length;
    const what = n === 0
      ? `Delete device ${name} (${device.ip})?`
      : `Delete device ${name} (${device.ip}), its ${n} monitor${
        n === 1 ? "" : "s"
      } and their metrics? This cannot be undone.`;
    if (!confirm(what)) return;
    busy.value = true;
    error.value = null;
    try {
      for (const id of monitors) await api("DELETE", `/monitors/${id}`);
      await api("DELETE", `/devices/${device.id}`);
      location.href = "/devices";
    } catch (err) {
      error.value = errorText(err);
      busy.value = false;
    }
  };
  const paused = device.status === "unreachable" || device.status === "inactive";
  return (
    <section class="device-actions" aria-label="Device actions">
      <div class="actions">
        <PollNow {...props} />
        {paused
          ? (
            <button
              type="button"
              disabled={busy.value}
              onClick={() => setStatus(monitors.length ? "monitoring" : "discovered")}
            >
              Re-enable polling
            </button>
          )
          : monitors.length > 0 && (
            <button
              type="button"
              class="secondary"
              disabled={busy.value}
              onClick={() => setStatus("inactive")}
              title="keep the device and its monitors, but poll it no more"
            >
              Stop polling
            </button>
          )}
        <button
          type="button"
          class="secondary"
          aria-expanded={editing.value}
          onClick={() => editing.value = !editing.value}
        >
          Edit details
        </button>
        <button type="button" class="danger" disabled={busy.value} onClick={remove}>
          Delete device
        </button>
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {editing.value && <EditForm device={device} onDone={() => editing.value = false} />}
    </section>
  );
}
