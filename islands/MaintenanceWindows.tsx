/** Maintenance windows: one-off or weekly, for a device, a tag or everything. */
import { useSignal } from "@preact/signals";
import { api } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { DeleteButton } from "./delete_button.tsx";

export interface WindowRow {
  id: number;
  name: string;
  scope: { kind: string; tag: string | null; device_id: number | null };
  kind: "once" | "weekly";
  starts_at: string | null;
  ends_at: string | null;
  weekdays: number[] | null;
  start_minute: number | null;
  duration_minutes: number | null;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

function when(w: WindowRow): string {
  if (w.kind === "once") return `${w.starts_at} – ${w.ends_at}`;
  const m = w.start_minute ?? 0;
  const hhmm = `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  return `${
    (w.weekdays ?? []).map((d) => DAYS[d]).join(", ")
  } ${hhmm} UTC for ${w.duration_minutes} min`;
}

export default function MaintenanceWindows(
  { windows, canEdit }: { windows: WindowRow[]; canEdit: boolean },
) {
  const list = useSignal(windows);
  const kind = useSignal<"once" | "weekly">("once");
  const scope = useSignal("all");
  const error = useSignal<string | null>(null);
  return (
    <div class="stack">
      {error.value && <p class="error" role="alert">{error.value}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Window</th>
              <th scope="col">Scope</th>
              <th scope="col">When</th>
              {canEdit && (
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.value.map((w) => (
              <tr key={w.id}>
                <td>{w.name}</td>
                <td>
                  {w.scope.kind === "all"
                    ? "everything"
                    : w.scope.kind === "tag"
                    ? `tag ${w.scope.tag}`
                    : `device ${w.scope.device_id}`}
                </td>
                <td>{when(w)}</td>
                {canEdit && (
                  <td>
                    <DeleteButton
                      what={`maintenance window ${w.name}`}
                      path={`/maintenance-windows/${w.id}`}
                      onDeleted={() => list.value = list.value.filter((x) => x.id !== w.id)}
                      onError={(m) => error.value = m}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {canEdit && (
        <form
          class="card stack"
          aria-label="Create a maintenance window"
          onSubmit={async (e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const f = new FormData(form);
            const iso = (k: string) => {
              const v = String(f.get(k) ?? "");
              return v ? new Date(v).toISOString() : null;
            };
            const [h, m] = String(f.get("start_time") || "00:00").split(":").map(Number);
            error.value = null;
            try {
              const w = await api<WindowRow>("POST", "/maintenance-windows", {
                name: String(f.get("name")),
                scope: {
                  kind: scope.value,
                  tag: scope.value === "tag" ? String(f.get("tag") ?? "") : null,
                  device_id: scope.value === "device" ? Number(f.get("device_id")) : null,
                },
                kind: kind.value,
                ...(kind.value === "once"
                  ? { starts_at: iso("starts_at"), ends_at: iso("ends_at") }
                  : {
                    weekdays: f.getAll("weekdays").map(Number),
                    start_minute: h * 60 + m,
                    duration_minutes: Number(f.get("duration_minutes")),
                  }),
              });
              list.value = [...list.value, w];
              form.reset();
            } catch (err) {
              error.value = formErrorText(form, err);
            }
          }}
        >
          <h2>Create a maintenance window</h2>
          <label>
            Name <input name="name" required maxLength={200} />
          </label>
          <label>
            Scope
            <select value={scope.value} onChange={(e) => scope.value = e.currentTarget.value}>
              <option value="all">everything</option>
              <option value="tag">devices with a tag</option>
              <option value="device">one device</option>
            </select>
          </label>
          {scope.value === "tag" && (
            <label>
              Tag <input name="tag" required />
            </label>
          )}
          {scope.value === "device" && (
            <label>
              Device id <input name="device_id" type="number" min={1} required />
            </label>
          )}
          <label>
            Repeats
            <select
              value={kind.value}
              onChange={(e) => kind.value = e.currentTarget.value as "once" | "weekly"}
            >
              <option value="once">once</option>
              <option value="weekly">weekly</option>
            </select>
          </label>
          {kind.value === "once"
            ? (
              <>
                <label>
                  Starts <input name="starts_at" type="datetime-local" required />
                </label>
                <label>
                  Ends <input name="ends_at" type="datetime-local" required />
                </label>
              </>
            )
            : (
              <>
                <fieldset>
                  <legend>Days (UTC)</legend>
                  {DAYS.map((d, i) => (
                    <label key={d}>
                      <input type="checkbox" name="weekdays" value={i} /> {d}
                    </label>
                  ))}
                </fieldset>
                <label>
                  Starts at (UTC){" "}
                  <input name="start_time" data-field="start_minute" type="time" required />
                </label>
                <label>
                  Minutes <input name="duration_minutes" type="number" min={1} required />
                </label>
              </>
            )}
          <button type="submit">Create window</button>
        </form>
      )}
    </div>
  );
}
