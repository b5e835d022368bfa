/**
 * What the extended and full collection profiles tell about a device: its services (filter by
 * state, start mode, name; "automatic but not running" in one click), its top processes
 * (by CPU or memory) and its event log errors (filter by level, source, event id).
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { api, errorText } from "./api.ts";
import { fmtBytes, fmtLocal, fmtPercent } from "../components/format.ts";

interface Service {
  name: string;
  display_name: string;
  state: string;
  start_mode: string;
}
interface Process {
  name: string;
  pid: number;
  cpu_percent: number | null;
  memory_bytes: number;
  threads: number;
  handles: number;
}
interface EventEntry {
  ts: string;
  log: string;
  record_number: number;
  source: string;
  event_id: number;
  level: string;
  message: string | null;
}

function Services({ deviceId }: { deviceId: number }) {
  const state = useSignal("");
  const mode = useSignal("");
  const name = useSignal("");
  const rows = useSignal<Service[] | null>(null);
  const at = useSignal<string | null>(null);
  const error = useSignal<string | null>(null);
  useEffect(() => {
    const qs = new URLSearchParams();
    if (state.value) qs.set("state", state.value);
    if (mode.value) qs.set("start_mode", mode.value);
    if (name.value.trim()) qs.set("name", name.value.trim());
    api<{ services: Service[]; collected_at: string | null }>(
      "GET",
      `/devices/${deviceId}/services?${qs}`,
    ).then((d) => {
      rows.value = d.services;
      at.value = d.collected_at;
      error.value = null;
    }).catch((err) => error.value = errorText(err));
  }, [state.value, mode.value, name.value]);
  return (
    <section aria-label="Services" data-services={rows.value?.length ?? -1}>
      <h3>Services</h3>
      <div class="toolbar">
        <label>
          State{" "}
          <select
            name="service-state"
            value={state.value}
            onChange={(e) => state.value = e.currentTarget.value}
          >
            <option value="">all</option>
            <option value="Running">Running</option>
            <option value="Stopped">Stopped</option>
          </select>
        </label>
        <label>
          Start mode{" "}
          <select
            name="service-mode"
            value={mode.value}
            onChange={(e) => mode.value = e.currentTarget.value}
          >
            <option value="">all</option>
            <option value="Auto">Auto</option>
            <option value="Manual">Manual</option>
            <option value="Disabled">Disabled</option>
          </select>
        </label>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            state.value = "Stopped";
            mode.value = "Auto";
          }}
        >
          Automatic, not running
        </button>
        <label>
          Name{" "}
          <input
            name="service-name"
            type="search"
            value={name.value}
            onInput={(e) => name.value = e.currentTarget.value}
          />
        </label>
        {at.value && <span class="muted small">read {fmtLocal(at.value)}</span>}
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {rows.value && rows.value.length === 0 && !at.value && (
        <p class="muted">No service list yet: choose the extended or full profile.</p>
      )}
      {rows.value && (at.value || rows.value.length > 0) && (
        <div class="table-wrap">
          <table class="services">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Display name</th>
                <th scope="col">State</th>
                <th scope="col">Start mode</th>
              </tr>
            </thead>
            <tbody>
              {rows.value.map((s) => (
                <tr key={s.name} data-state={s.state}>
                  <td>{s.name}</td>
                  <td>{s.display_name}</td>
                  <td>
                    <span
                      class={`badge ${
                        s.state === "Running"
                          ? "s-monitoring"
                          : s.start_mode === "Auto"
                          ? "s-unreachable"
                          : "s-inactive"
                      }`}
                    >
                      {s.state}
                    </span>
                  </td>
                  <td>{s.start_mode}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Processes({ deviceId }: { deviceId: number }) {
  const sort = useSignal<"cpu" | "memory">("cpu");
  const rows = useSignal<Process[] | null>(null);
  const error = useSignal<string | null>(null);
  useEffect(() => {
    const load = () =>
      api<{ processes: Process[] }>("GET", `/devices/${deviceId}/processes?sort=${sort.value}`)
        .then((d) => {
          rows.value = d.processes;
          error.value = null;
        }).catch((err) => error.value = errorText(err));
    load();
    const timer = setInterval(load, 30_000);
    return () => clearInterval(timer);
  }, [sort.value]);
  return (
    <section aria-label="Processes" data-processes={rows.value?.length ?? -1}>
      <h3>Top processes</h3>
      <div role="group" aria-label="Sort processes" class="seg">
        {(["cpu", "memory"] as const).map((k) => (
          <button
            key={k}
            type="button"
            aria-pressed={sort.value === k}
            onClick={() => sort.value = k}
          >
            by {k === "cpu" ? "CPU" : "memory"}
          </button>
        ))}
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {rows.value?.length === 0 && <p class="muted">No process list in the last day.</p>}
      {rows.value && rows.value.length > 0 && (
        <div class="table-wrap">
          <table class="processes">
            <thead>
              <tr>
                <th scope="col">Process</th>
                <th scope="col">PID</th>
                <th scope="col">CPU</th>
                <th scope="col">Memory</th>
                <th scope="col">Threads</th>
                <th scope="col">Handles</th>
              </tr>
            </thead>
            <tbody>
              {rows.value.map((p) => (
                <tr key={p.pid}>
                  <td>{p.name}</td>
                  <td>{p.pid}</td>
                  <td>{p.cpu_percent === null ? "–" : fmtPercent(p.cpu_percent)}</td>
                  <td>{fmtBytes(p.memory_bytes)}</td>
                  <td>{p.threads}</td>
                  <td>{p.handles}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Events({ deviceId }: { deviceId: number }) {
  const level = useSignal("");
  const source = useSignal("");
  const eventId = useSignal("");
  const rows = useSignal<EventEntry[] | null>(null);
  const error = useSignal<string | null>(null);
  const load = () => {
    const qs = new URLSearchParams({ limit: "100" });
    if (level.value) qs.set("level", level.value);
    if (source.value.trim()) qs.set("source", source.value.trim());
    if (eventId.value.trim()) qs.set("event_id", eventId.value.trim());
    api<EventEntry[]>("GET", `/devices/${deviceId}/events?${qs}`).then((items) => {
      rows.value = items;
      error.value = null;
    }).catch((err) => error.value = errorText(err));
  };
  useEffect(load, [level.value]);
  return (
    <section aria-label="Event log" data-events={rows.value?.length ?? -1}>
      <h3>Event log (last 24 h)</h3>
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          load();
        }}
      >
        <label>
          Level{" "}
          <select
            name="event-level"
            value={level.value}
            onChange={(e) => level.value = e.currentTarget.value}
          >
            <option value="">errors and criticals</option>
            <option value="critical">critical</option>
            <option value="error">error</option>
          </select>
        </label>
        <label>
          Source{" "}
          <input
            name="event-source"
            value={source.value}
            onInput={(e) => source.value = e.currentTarget.value}
          />
        </label>
        <label>
          Event ID{" "}
          <input
            name="event-id"
            type="number"
            min={0}
            max={65535}
            value={eventId.value}
            onInput={(e) => eventId.value = e.currentTarget.value}
          />
        </label>
        <button type="submit" class="secondary">Filter</button>
        <span class="muted small" aria-live="polite">
          {rows.value ? `${rows.value.length} shown (newest 100 at most)` : "Loading…"}
        </span>
      </form>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {rows.value?.length === 0 && <p class="muted">No errors logged (full profile only).</p>}
      {rows.value && rows.value.length > 0 && (
        <div class="table-wrap">
          <table class="events">
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Log</th>
                <th scope="col">Source</th>
                <th scope="col">ID</th>
                <th scope="col">Message</th>
              </tr>
            </thead>
            <tbody>
              {rows.value.map((e) => (
                <tr key={`${e.log}-${e.record_number}`}>
                  <td>{fmtLocal(e.ts)}</td>
                  <td>{e.log}</td>
                  <td>{e.source}</td>
                  <td>{e.event_id}</td>
                  <td class="wrap">{e.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

export default function DeviceDepth({ deviceId }: { deviceId: number }) {
  return (
    <div class="device-depth">
      <Services deviceId={deviceId} />
      <Processes deviceId={deviceId} />
      <Events deviceId={deviceId} />
    </div>
  );
}
