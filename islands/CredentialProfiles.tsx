/**
 * Credential profiles: create / edit (the password is write-only: left empty on edit, it is
 * kept), delete, and "test against an IP", which shows the identity or the exact error.
 */
import { useSignal } from "@preact/signals";
import { api, saveResource } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { DeleteButton } from "./delete_button.tsx";
import type { CredentialRow } from "../lib/web/page_data.ts";
import { credentialTypeLabel } from "../lib/web/wording.ts";

interface TestResult {
  ok: boolean;
  ip: string;
  identity: { hostname: string | null; os: string | null; domain: string | null } | null;
  error: { kind: string; message: string } | null;
  duration_ms: number;
}

/**
 * The inputs are uncontrolled (`defaultValue`): a controlled `value` is written back into the
 * input on every render, so changing the type or showing an error wiped what had been typed.
 */
function Form({ edit, onSaved, onCancel }: {
  edit: CredentialRow | null;
  onSaved: (row: CredentialRow) => void;
  onCancel: () => void;
}) {
  const error = useSignal<string | null>(null);
  const type = useSignal(edit?.type ?? "winrm_ntlm");
  const wmi = type.value === "wmi";
  return (
    <form
      class="card stack"
      aria-label={edit ? `Edit ${edit.name}` : "New credential profile"}
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = new FormData(form);
        const body: Record<string, unknown> = {
          name: f.get("name"),
          type: f.get("type"),
          username: f.get("username"),
          domain: String(f.get("domain") ?? "") || null,
          use_ssl: f.get("use_ssl") === "on",
          tls_verify: f.get("tls_verify"),
          allow_unencrypted: f.get("allow_unencrypted") === "on",
        };
        if (f.get("type") === "winrm_kerberos") {
          body.kerberos_realm = String(f.get("kerberos_realm") ?? "").trim() || null;
          body.kerberos_kdcs = String(f.get("kerberos_kdcs") ?? "").split(/[\s,]+/)
            .filter(Boolean);
          const spn = String(f.get("kerberos_spn_mode") ?? "host");
          body.kerberos_spn = spn === "host"
            ? null
            : spn === "reverse"
            ? "reverse"
            : String(f.get("kerberos_spn") ?? "").trim() || null;
        }
        const port = String(f.get("port") ?? "");
        if (port) body.port = Number(port);
        const password = String(f.get("password") ?? "");
        if (password || !edit) body.password = password;
        try {
          onSaved(await saveResource("/credential-profiles", edit?.id, body));
        } catch (err) {
          error.value = formErrorText(form, err);
        }
      }}
    >
      <h2>{edit ? `Edit “${edit.name}”` : "New credential profile"}</h2>
      <label>
        Name <input name="name" required maxLength={100} defaultValue={edit?.name ?? ""} />
      </label>
      <label>
        Type
        <select
          name="type"
          onChange={(e) => type.value = e.currentTarget.value as typeof type.value}
        >
          {["winrm_ntlm", "winrm_kerberos", "winrm_basic", "wmi"].map((t) => (
            <option key={t} value={t} selected={(edit?.type ?? "winrm_ntlm") === t}>
              {credentialTypeLabel(t)}
            </option>
          ))}
        </select>
      </label>
      <label>
        Username{" "}
        <input
          name="username"
          required
          autocomplete="off"
          defaultValue={edit?.username ?? ""}
        />
      </label>
      <label>
        Password{edit ? " (leave empty to keep the stored one)" : ""}
        <input name="password" type="password" autocomplete="new-password" required={!edit} />
      </label>
      <label>
        Domain (optional) <input name="domain" defaultValue={edit?.domain ?? ""} />
      </label>
      {type.value === "winrm_kerberos" && (
        <fieldset class="stack">
          <legend>Kerberos</legend>
          <label>
            Realm (default: the part after @ in the username)
            <input name="kerberos_realm" defaultValue={edit?.kerberos_realm ?? ""} />
          </label>
          <label>
            KDCs, host[:port] (empty: found by DNS SRV records)
            <input name="kerberos_kdcs" defaultValue={(edit?.kerberos_kdcs ?? []).join(", ")} />
          </label>
          <label>
            Service principal
            <select name="kerberos_spn_mode">
              {[
                ["host", "HTTP/<device host name>"],
                ["reverse", "HTTP/<reverse DNS name of the IP>"],
                ["fixed", "A fixed SPN (below)"],
              ].map(([v, text]) => (
                <option
                  key={v}
                  value={v}
                  selected={(edit?.kerberos_spn === "reverse"
                    ? "reverse"
                    : edit?.kerberos_spn
                    ? "fixed"
                    : "host") === v}
                >
                  {text}
                </option>
              ))}
            </select>
          </label>
          <label>
            Fixed SPN
            <input
              name="kerberos_spn"
              placeholder="HTTP/server.example.com"
              defaultValue={edit?.kerberos_spn && edit.kerberos_spn !== "reverse"
                ? edit.kerberos_spn
                : ""}
            />
          </label>
        </fieldset>
      )}
      <label>
        {wmi
          ? "Port (default 135, DCOM activation; WMI then answers on a dynamic RPC port)"
          : "Port (default 5985, or 5986 with HTTPS)"}
        <input name="port" type="number" min={1} max={65535} defaultValue={edit?.port ?? ""} />
      </label>
      {wmi && (
        <p class="muted">
          WMI over DCOM signs and encrypts every call with NTLM (packet privacy). The firewall must
          allow TCP 135 and the dynamic RPC range (49152–65535) from NMSlite to the host.
        </p>
      )}
      <label class="check" hidden={wmi}>
        <input name="use_ssl" type="checkbox" defaultChecked={edit?.use_ssl ?? false} /> Use HTTPS
      </label>
      <label hidden={wmi}>
        TLS verification
        <select name="tls_verify">
          {/* a pinned certificate is set through the API; keep it when editing */}
          {["system", "insecure", ...(edit?.tls_verify === "pinned" ? ["pinned"] : [])].map((t) => (
            <option key={t} value={t} selected={(edit?.tls_verify ?? "system") === t}>{t}</option>
          ))}
        </select>
      </label>
      <label class="check" hidden={wmi}>
        <input
          name="allow_unencrypted"
          type="checkbox"
          defaultChecked={edit?.allow_unencrypted ?? false}
        />{" "}
        Allow Basic over plain HTTP
      </label>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      <div class="row-form">
        <button type="submit">{edit ? "Save" : "Create profile"}</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

function Tester({ row }: { row: CredentialRow }) {
  const ip = useSignal("");
  const busy = useSignal(false);
  const result = useSignal<TestResult | null>(null);
  const error = useSignal<string | null>(null);
  return (
    <form
      class="inline"
      onSubmit={async (e) => {
        e.preventDefault();
        const form = e.currentTarget;
        busy.value = true;
        error.value = null;
        result.value = null;
        try {
          result.value = await api("POST", `/credential-profiles/${row.id}/test`, { ip: ip.value });
        } catch (err) {
          error.value = formErrorText(form, err);
        } finally {
          busy.value = false;
        }
      }}
    >
      <label class="sr-only" for={`test-${row.id}`}>IP to test {row.name} against</label>
      <input
        id={`test-${row.id}`}
        name="ip"
        placeholder="IP to test"
        required
        value={ip.value}
        onInput={(e) => ip.value = e.currentTarget.value}
      />
      <button type="submit" class="secondary" disabled={busy.value}>
        {busy.value ? "Testing…" : "Test"}
      </button>
      <span role="status" class="test-result">
        {result.value?.ok && (
          <span class="ok">
            OK: {result.value.identity?.hostname} · {result.value.identity?.os}
          </span>
        )}
        {result.value && !result.value.ok && (
          <span class="error">{result.value.error?.kind}: {result.value.error?.message}</span>
        )}
        {error.value && <span class="error">{error.value}</span>}
      </span>
    </form>
  );
}

export default function CredentialProfiles(
  { rows: initial, canEdit }: { rows: CredentialRow[]; canEdit: boolean },
) {
  const rows = useSignal(initial);
  const editing = useSignal<CredentialRow | "new" | null>(null);
  const error = useSignal<string | null>(null);
  const edit = editing.value;
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {rows.value.length === 0
        ? (
          <p class="muted">
            No credential profiles yet. NMSlite needs a Windows account (local or domain) that may
            query WMI over WinRM.
          </p>
        )
        : (
          <div class="table-wrap">
            <table class="cards">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Type</th>
                  <th scope="col">Account</th>
                  <th scope="col">Port</th>
                  {canEdit && <th scope="col">Test / change</th>}
                </tr>
              </thead>
              <tbody>
                {rows.value.map((r) => (
                  <tr key={r.id}>
                    <td data-label="Name">{r.name}</td>
                    <td data-label="Type">{credentialTypeLabel(r.type)}</td>
                    <td data-label="Account">
                      {r.domain ? `${r.domain}\\${r.username}` : r.username}
                    </td>
                    <td data-label="Port">{r.port}{r.use_ssl ? " (HTTPS)" : ""}</td>
                    {canEdit && (
                      <td data-label="Test / change">
                        <Tester row={r} />
                        <div class="row-form">
                          <button type="button" class="secondary" onClick={() => editing.value = r}>
                            Edit
                          </button>
                          <DeleteButton
                            what={`credential profile ${r.name}`}
                            path={`/credential-profiles/${r.id}`}
                            onDeleted={() => rows.value = rows.value.filter((x) => x.id !== r.id)}
                            onError={(message) => error.value = message}
                          />
                        </div>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      {canEdit && edit === null && (
        <button type="button" onClick={() => editing.value = "new"}>New credential profile</button>
      )}
      {canEdit && edit !== null && (
        <Form
          key={edit === "new" ? "new" : edit.id}
          edit={edit === "new" ? null : edit}
          onCancel={() => editing.value = null}
          onSaved={(row) => {
            rows.value = [...rows.value.filter((x) => x.id !== row.id), row].sort((a, b) =>
              a.name.localeCompare(b.name)
            );
            editing.value = null;
          }}
        />
      )}
    </div>
  );
}
