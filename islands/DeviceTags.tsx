/** A device's tags (alert rules, policies and maintenance windows scope by them). */
import { useSignal } from "@preact/signals";
import { api } from "./api.ts";
import { formErrorText } from "./field_errors.ts";

export default function DeviceTags(
  { deviceId, tags, canEdit }: { deviceId: number; tags: string[]; canEdit: boolean },
) {
  const current = useSignal(tags);
  const error = useSignal<string | null>(null);
  const note = useSignal<string | null>(null);
  return (
    <section class="card" aria-label="Tags">
      <h2>Tags</h2>
      <p>{current.value.length ? current.value.join(", ") : <span class="muted">none</span>}</p>
      {canEdit && (
        <form
          class="row-form"
          aria-label="Set tags"
          onSubmit={async (e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const text = String(new FormData(form).get("tags") ?? "");
            error.value = null;
            note.value = null;
            try {
              const r = await api<{ tags: string[] }>("PUT", `/devices/${deviceId}/tags`, {
                tags: text.split(",").map((t) => t.trim()).filter(Boolean),
              });
              current.value = r.tags;
              note.value = "Tags saved.";
            } catch (err) {
              error.value = formErrorText(form, err);
            }
          }}
        >
          <label>
            Tags, separated by commas
            <input
              key={current.value.join(",")}
              name="tags"
              defaultValue={current.value.join(", ")}
              maxLength={2000}
            />
          </label>
          <button type="submit">Save tags</button>
        </form>
      )}
      {note.value && <p class="ok" role="status">{note.value}</p>}
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </section>
  );
}
