/**
 * "Add a device": a device by IP (and optionally its name), for a host that discovery does not
 * reach or that should be monitored before the next run. Opens the new device's page.
 */
import { useSignal } from "@preact/signals";
import { api } from "./api.ts";
import { formErrorText } from "./field_errors.ts";

export default function DeviceAdd(_props: Record<string, never>) {
  const open = useSignal(false);
  const busy = useSignal(false);
  const error = useSignal<string | null>(null);
  if (!open.value) {
    return (
      <button type="button" onClick={() => open.value = true} aria-expanded="false">
        Add a device
      </button>
    );
  }
  return (
    <form
      class="card row-form"
      aria-label="Add a device"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        const hostname = String(f.get("hostname") ?? "").trim();
        busy.value = true;
        error.value = null;
        try {
          const d = await api<{ id: number }>("POST", "/devices", {
            ip: String(f.get("ip") ?? "").trim(),
            ...(hostname ? { hostname } : {}),
          });
          location.href = `/devices/${d.id}`;
        } catch (err) {
          error.value = formErrorText(form, err);
          busy.value = false;
        }
      }}
    >
      <label>
        IP address
        <input
          name="ip"
          required
          inputMode="decimal"
          pattern="\d{1,3}(\.\d{1,3}){3}"
          placeholder="192.168.1.20"
          title="an IPv4 address such as 192.168.1.20"
          autoFocus
        />
      </label>
      <label>
        Name <span class="muted small">(optional)</span>
        <input name="hostname" maxLength={255} placeholder="as discovery would find it" />
      </label>
      <button type="submit" disabled={busy.value}>Add device</button>
      <button type="button" class="secondary" onClick={() => open.value = false}>Cancel</button>
      {error.value && <p class="error" role="alert">{error.value}</p>}
    </form>
  );
}
