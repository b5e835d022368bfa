/**
 * Discovery profiles (create, edit, delete) and running one (islands/discovery_run.tsx shows
 * the run). The islands are registered in routes/pages/islands.ts; the other files here are
 * their parts.
 */
import { useSignal } from "@preact/signals";
import { api, errorText, saveResource } from "./api.ts";
import { DeleteButton } from "./delete_button.tsx";
import { FINISHED, RecentRuns, type Run, RunView } from "./discovery_run.tsx";
import {
  type DiscoveryProfileRow,
  type NamedOption,
  type RunSummary,
  runSummary,
} from "../lib/web/page_data.ts";

export interface DiscoveryPanelProps {
  profiles: DiscoveryProfileRow[];
  credentials: NamedOption[];
  pluginId: number | null;
  canEdit: boolean;
  runs: RunSummary[];
}

function ProfileForm({ edit, credentials, onSaved, onCancel }: {
  edit: DiscoveryProfileRow | null;
  credentials: DiscoveryPanelProps["credentials"];
  onSaved: (p: DiscoveryProfileRow) => void;
  onCancel: () => void;
}) {
  const error = useSignal<string | null>(null);
  return (
    <form
      class="card stack"
      aria-label={edit ? `Edit ${edit.name}` : "New discovery profile"}
      onSubmit={async (e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        const ports = String(f.get("ports") ?? "").split(/[\s,]+/).filter(Boolean).map(Number);
        const body = {
          name: f.get("name"),
          credential_profile_id: Number(f.get("credential")),
          target: f.get("target"),
          ...(ports.length ? { ports } : {}),
        };
        try {
          onSaved(await saveResource("/discovery-profiles", edit?.id, body));
        } catch (err) {
          error.value = errorText(err);
        }
      }}
    >
      <h2>{edit ? `Edit “${edit.name}”` : "New discovery profile"}</h2>
      <label>
        Name <input name="name" required maxLength={100} value={edit?.name ?? ""} />
      </label>
      <label>
        Credential profile
        <select name="credential" required>
          {credentials.map((c) => (
            <option key={c.id} value={c.id} selected={edit?.credential_profile_id === c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Target (CIDR, range or list)
        <input name="target" required placeholder="192.168.1.0/24" value={edit?.target ?? ""} />
      </label>
      <label>
        Ports (optional, comma separated)
        <input name="ports" placeholder="5985, 5986" value={edit?.ports.join(", ") ?? ""} />
      </label>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      <div class="row-form">
        <button type="submit">{edit ? "Save" : "Create profile"}</button>
        <button type="button" class="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

export default function DiscoveryPanel(props: DiscoveryPanelProps) {
  const profiles = useSignal(props.profiles);
  const editing = useSignal<DiscoveryProfileRow | "new" | null>(null);
  const run = useSignal<{ run: Run; credentialId: number } | null>(null);
  const runs = useSignal(props.runs);
  const show = (r: Run, credentialId: number) => {
    run.value = { run: r, credentialId };
    runs.value = [runSummary(r), ...runs.value.filter((x) => x.id !== r.id)].slice(0, 10);
  };
  const error = useSignal<string | null>(null);

  const start = async (p: DiscoveryProfileRow) => {
    error.value = null;
    try {
      let r = await api<Run>("POST", `/discovery-profiles/${p.id}/run`);
      show(r, p.credential_profile_id);
      while (!FINISHED.has(r.status)) {
        await new Promise((res) => setTimeout(res, 500));
        r = await api<Run>("GET", `/discovery-runs/${r.id}`);
        show(r, p.credential_profile_id);
      }
    } catch (err) {
      error.value = errorText(err);
    }
  };
  const edit = editing.value;
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {profiles.value.length === 0
        ? (
          <p class="muted">
            No discovery profiles yet.{" "}
            {props.canEdit && "Create one: give it a network range and the credential to try."}
          </p>
        )
        : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Target</th>
                  <th scope="col">Ports</th>
                  {props.canEdit && (
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {profiles.value.map((p) => (
                  <tr key={p.id}>
                    <td>{p.name}</td>
                    <td>{p.target}</td>
                    <td>{p.ports.join(", ")}</td>
                    {props.canEdit && (
                      <td>
                        <div class="actions">
                          <button type="button" onClick={() => start(p)}>Run {p.name}</button>
                          <button type="button" class="secondary" onClick={() => editing.value = p}>
                            Edit
                          </button>
                          <DeleteButton
                            what={`discovery profile ${p.name}`}
                            path={`/discovery-profiles/${p.id}`}
                            onDeleted={() =>
                              profiles.value = profiles.value.filter((x) => x.id !== p.id)}
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
      {props.canEdit && edit === null && (
        props.credentials.length === 0
          ? (
            <p>
              First add a <a href="/credentials">credential profile</a>.
            </p>
          )
          : (
            <button type="button" onClick={() => editing.value = "new"}>
              New discovery profile
            </button>
          )
      )}
      {props.canEdit && edit !== null && (
        <ProfileForm
          key={edit === "new" ? "new" : edit.id}
          edit={edit === "new" ? null : edit}
          credentials={props.credentials}
          onCancel={() => editing.value = null}
          onSaved={(p) => {
            const others = profiles.value.filter((x) => x.id !== p.id);
            profiles.value = [...others, p].sort((a, b) => a.id - b.id);
            editing.value = null;
          }}
        />
      )}
      {run.value && (
        <RunView
          key={run.value.run.id}
          run={run.value.run}
          credentialId={run.value.credentialId}
          pluginId={props.pluginId}
          canEdit={props.canEdit}
        />
      )}
      <h2>Recent runs</h2>
      <RecentRuns runs={runs.value} />
    </div>
  );
}
