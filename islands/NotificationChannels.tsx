/**
 * Notification channels and policies (admins): create a channel from its settings and write-only
 * secrets (JSON, as the API takes them), send a test through it, and choose by policy which
 * problems go where.
 */
import { useSignal } from "@preact/signals";
import { api, errorText } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { DeleteButton } from "./delete_button.tsx";

export interface ChannelRow {
  id: number;
  name: string;
  type: string;
  settings: Record<string, unknown>;
  secrets_set: string[];
  enabled: boolean;
}

export interface PolicyRow {
  id: number;
  name: string;
  channel_id: number;
  min_severity: string;
  tag: string | null;
  repeat_interval_s: number | null;
  send_resolved: boolean;
}

const EXAMPLES: Record<string, string> = {
  webhook: '{"url": "https://hooks.example.com/nmslite", "preset": "default"}',
  email: '{"host": "smtp.example.com", "port": 587, "security": "starttls", ' +
    '"from": "nmslite@example.com", "to": ["ops@example.com"], "username": "nmslite"}',
  alertmanager: '{"url": "http://alertmanager:9093"}',
};

export default function NotificationChannels(
  { channels, policies }: { channels: ChannelRow[]; policies: PolicyRow[] },
) {
  const list = useSignal(channels);
  const pols = useSignal(policies);
  const type = useSignal("webhook");
  const error = useSignal<string | null>(null);
  const note = useSignal<string | null>(null);
  const nameOf = (id: number) => list.value.find((c) => c.id === id)?.name ?? `#${id}`;
  return (
    <div class="stack">
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {note.value && <p class="ok" role="status">{note.value}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Channel</th>
              <th scope="col">Type</th>
              <th scope="col">Secrets set</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.value.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td>
                <td>{c.type}</td>
                <td>{c.secrets_set.join(", ") || "none"}</td>
                <td class="actions">
                  <button
                    type="button"
                    class="secondary"
                    onClick={async () => {
                      error.value = null;
                      note.value = null;
                      try {
                        const o = await api<{ ok: boolean; status: string; detail?: string }>(
                          "POST",
                          `/notification-channels/${c.id}/test`,
                        );
                        if (o.ok) note.value = `Test sent through ${c.name} (${o.status}).`;
                        else {error.value = `Test through ${c.name} failed: ${o.status} ${
                            o.detail ?? ""
                          }`;}
                      } catch (err) {
                        error.value = errorText(err);
                      }
                    }}
                  >
                    Send a test
                  </button>
                  <DeleteButton
                    what={`channel ${c.name}`}
                    path={`/notification-channels/${c.id}`}
                    onDeleted={() => {
                      list.value = list.value.filter((x) => x.id !== c.id);
                      pols.value = pols.value.filter((p) => p.channel_id !== c.id);
                    }}
                    onError={(m) => error.value = m}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        class="card stack"
        aria-label="Create a channel"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const f = new FormData(form);
          error.value = null;
          try {
            const settings = parseField(f, "settings", "Settings", true);
            const secrets = parseField(f, "secrets", "Secrets", false);
            const c = await api<ChannelRow>("POST", "/notification-channels", {
              name: String(f.get("name")),
              type: type.value,
              settings,
              secrets,
            });
            list.value = [...list.value, c];
            form.reset();
            note.value = `Channel ${c.name} created.`;
          } catch (err) {
            error.value = err instanceof FieldError ? err.message : formErrorText(form, err);
          }
        }}
      >
        <h2>Create a channel</h2>
        <label>
          Name <input name="name" required maxLength={100} />
        </label>
        <label>
          Type
          <select value={type.value} onChange={(e) => type.value = e.currentTarget.value}>
            <option value="webhook">webhook</option>
            <option value="email">email</option>
            <option value="alertmanager">Alertmanager</option>
          </select>
        </label>
        <label>
          Settings (JSON)
          <textarea name="settings" rows={3} placeholder={EXAMPLES[type.value]} />
        </label>
        <label>
          Secrets (JSON, write-only)
          <textarea
            name="secrets"
            rows={2}
            placeholder={type.value === "email"
              ? '{"password": "…"}'
              : '{"hmacSecret": "…", "headers": {"Authorization": "…"}}'}
          />
        </label>
        <button type="submit">Create channel</button>
      </form>
      <h2>Policies</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Channel</th>
              <th scope="col">Severity at least</th>
              <th scope="col">Tag</th>
              <th scope="col">Repeat</th>
              <th scope="col">Resolved</th>
              <th scope="col">
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {pols.value.map((p) => (
              <tr key={p.id}>
                <td>{p.name}</td>
                <td>{nameOf(p.channel_id)}</td>
                <td>{p.min_severity}</td>
                <td>{p.tag ?? "any"}</td>
                <td>{p.repeat_interval_s ? `${p.repeat_interval_s} s` : "never"}</td>
                <td>{p.send_resolved ? "sent" : "not sent"}</td>
                <td>
                  <DeleteButton
                    what={`policy ${p.name}`}
                    path={`/notification-policies/${p.id}`}
                    onDeleted={() => pols.value = pols.value.filter((x) => x.id !== p.id)}
                    onError={(m) => error.value = m}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form
        class="card row-form"
        aria-label="Create a policy"
        onSubmit={async (e) => {
          e.preventDefault();
          const form = e.currentTarget;
          const f = new FormData(form);
          const repeat = String(f.get("repeat") ?? "").trim();
          const tag = String(f.get("tag") ?? "").trim();
          error.value = null;
          try {
            const p = await api<PolicyRow>("POST", "/notification-policies", {
              name: String(f.get("name")),
              channel_id: Number(f.get("channel_id")),
              min_severity: String(f.get("min_severity")),
              tag: tag || null,
              repeat_interval_s: repeat ? Number(repeat) : null,
              send_resolved: f.get("send_resolved") === "on",
            });
            pols.value = [...pols.value, p];
            form.reset();
          } catch (err) {
            error.value = formErrorText(form, err);
          }
        }}
      >
        <label>
          Name <input name="name" required maxLength={100} />
        </label>
        <label>
          Channel
          <select name="channel_id">
            {list.value.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
          </select>
        </label>
        <label>
          Severity at least
          <select name="min_severity">
            {["info", "warning", "high", "critical"].map((s) => <option key={s}>{s}</option>)}
          </select>
        </label>
        <label>
          Tag <input name="tag" maxLength={64} placeholder="any" />
        </label>
        <label>
          Repeat every (s){" "}
          <input
            name="repeat"
            data-field="repeat_interval_s"
            type="number"
            min={1}
            placeholder="never"
          />
        </label>
        <label>
          <input name="send_resolved" type="checkbox" checked /> Send resolved
        </label>
        <button type="submit">Add policy</button>
      </form>
    </div>
  );
}

class FieldError extends Error {}

/**
 * A JSON text field of the form, or a sentence naming it. The parser's own message quotes the
 * text it choked on, so it is shown for Settings but never for Secrets.
 */
function parseField(f: FormData, name: string, label: string, quote: boolean): unknown {
  try {
    return JSON.parse(String(f.get(name) || "{}"));
  } catch (err) {
    const where = quote ? ` (${(err as Error).message})` : "";
    throw new FieldError(`${label} must be a JSON object in braces, {"name": "value", …}${where}.`);
  }
}
