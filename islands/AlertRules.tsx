/**
 * Alert rules: the table, and a form that creates a rule or edits one (metric from the
 * catalogue, condition, recovery threshold, duration, severity, scope). The API's 400 names
 * the field, shown as it comes.
 */
import { useSignal } from "@preact/signals";
import { saveResource } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { DeleteButton } from "./delete_button.tsx";

export interface RuleRow {
  id: number;
  name: string;
  metric: string;
  operator: string;
  threshold: number;
  recovery_threshold: number | null;
  for_seconds: number;
  severity: string;
  scope: { kind: string; tag: string | null; device_id: number | null };
  enabled: boolean;
}

export interface MetricOption {
  name: string;
  label: string;
  unit: string;
  kind: string;
}

const SEVERITIES = ["info", "warning", "high", "critical"];
const OPERATORS = [">", ">=", "<", "<="];

export default function AlertRules(
  { rules, metrics, canEdit }: { rules: RuleRow[]; metrics: MetricOption[]; canEdit: boolean },
) {
  const list = useSignal(rules);
  const editing = useSignal<RuleRow | "new" | null>(null);
  const error = useSignal<string | null>(null);
  const label = (m: string) => metrics.find((x) => x.name === m)?.label ?? m;
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {canEdit && editing.value === null && (
        <button
          type="button"
          onClick={() => editing.value = "new"}
        >
          Create a rule
        </button>
      )}
      {editing.value !== null && (
        <RuleForm
          rule={editing.value === "new" ? undefined : editing.value}
          metrics={metrics}
          onCancel={() => editing.value = null}
          onSaved={(r) => {
            const exists = list.value.some((x) => x.id === r.id);
            list.value = exists ? list.value.map((x) => x.id === r.id ? r : x) : [...list.value, r];
            editing.value = null;
          }}
        />
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Condition</th>
              <th scope="col">For</th>
              <th scope="col">Severity</th>
              <th scope="col">Scope</th>
              <th scope="col">Enabled</th>
              {canEdit && (
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              )}
            </tr>
          </thead>
          <tbody>
            {list.value.map((r) => (
              <tr key={r.id}>
                <td>{r.name}</td>
                <td>
                  {label(r.metric)} {r.operator} {r.threshold}
                  {r.recovery_threshold !== null && (
                    <div class="muted small">recovers at {r.recovery_threshold}</div>
                  )}
                </td>
                <td>{r.for_seconds ? `${r.for_seconds} s` : "at once"}</td>
                <td>
                  <span class={`badge sev-${r.severity}`}>{r.severity}</span>
                </td>
                <td>
                  {r.scope.kind === "all"
                    ? "every device"
                    : r.scope.kind === "tag"
                    ? `tag ${r.scope.tag}`
                    : <a href={`/devices/${r.scope.device_id}`}>device {r.scope.device_id}</a>}
                </td>
                <td>{r.enabled ? "yes" : "no"}</td>
                {canEdit && (
                  <td class="actions">
                    <button type="button" class="secondary" onClick={() => editing.value = r}>
                      Edit
                    </button>
                    <DeleteButton
                      what={`rule ${r.name}`}
                      path={`/alert-rules/${r.id}`}
                      onDeleted={() => list.value = list.value.filter((x) => x.id !== r.id)}
                      onError={(m) => error.value = m}
                    />
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}

function RuleForm(props: {
  rule?: RuleRow;
  metrics: MetricOption[];
  onCancel(): void;
  onSaved(r: RuleRow): void;
}) {
  const r = props.rule;
  const scope = useSignal(r?.scope.kind ?? "all");
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  return (
    <form
      class="card stack"
      aria-label={r ? `Edit rule ${r.name}` : "Create a rule"}
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        const num = (k: string) => {
          const v = String(f.get(k) ?? "").trim();
          return v === "" ? null : Number(v);
        };
        const body = {
          name: String(f.get("name") ?? ""),
          metric: String(f.get("metric")),
          operator: String(f.get("operator")),
          threshold: num("threshold") ?? undefined,
          recovery_threshold: num("recovery_threshold"),
          for_seconds: num("for_seconds") ?? 0,
          severity: String(f.get("severity")),
          scope: {
            kind: scope.value,
            tag: scope.value === "tag" ? String(f.get("tag") ?? "") : null,
            device_id: scope.value === "device" ? num("device_id") : null,
          },
          enabled: f.get("enabled") === "on",
        };
        busy.value = true;
        error.value = null;
        try {
          props.onSaved(await saveResource<RuleRow>("/alert-rules", r?.id, body));
        } catch (err) {
          error.value = formErrorText(form, err);
        } finally {
          busy.value = false;
        }
      }}
    >
      <label>
        Name <input name="name" required maxLength={200} defaultValue={r?.name ?? ""} />
      </label>
      <label>
        Metric
        <select name="metric">
          {props.metrics.map((m) => (
            <option key={m.name} value={m.name} selected={m.name === (r?.metric ?? "cpu_percent")}>
              {m.label}
            </option>
          ))}
        </select>
      </label>
      <label>
        Operator
        <select name="operator">
          {OPERATORS.map((o) => (
            <option key={o} value={o} selected={o === (r?.operator ?? ">")}>{o}</option>
          ))}
        </select>
      </label>
      <label>
        Threshold <input name="threshold" inputMode="decimal" defaultValue={r?.threshold ?? ""} />
      </label>
      <label>
        Recovery threshold <span class="muted small">(optional)</span>
        <input
          name="recovery_threshold"
          inputMode="decimal"
          defaultValue={r?.recovery_threshold ?? ""}
        />
      </label>
      <label>
        For (seconds)
        <input name="for_seconds" type="number" min={0} defaultValue={r?.for_seconds ?? 0} />
      </label>
      <label>
        Severity
        <select name="severity">
          {SEVERITIES.map((s) => (
            <option key={s} value={s} selected={s === (r?.severity ?? "warning")}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Scope
        <select
          name="scope"
          value={scope.value}
          onChange={(e) => scope.value = e.currentTarget.value}
        >
          <option value="all">every device</option>
          <option value="tag">devices with a tag</option>
          <option value="device">one device</option>
        </select>
      </label>
      {scope.value === "tag" && (
        <label>
          Tag <input name="tag" defaultValue={r?.scope.tag ?? ""} />
        </label>
      )}
      {scope.value === "device" && (
        <label>
          Device id{" "}
          <input name="device_id" type="number" min={1} defaultValue={r?.scope.device_id ?? ""} />
        </label>
      )}
      <label>
        <input name="enabled" type="checkbox" defaultChecked={r?.enabled ?? true} /> Enabled
      </label>
      <div class="actions">
        <button type="submit" disabled={busy.value}>{r ? "Save rule" : "Create rule"}</button>
        <button type="button" class="secondary" onClick={props.onCancel}>Cancel</button>
      </div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </form>
  );
}
