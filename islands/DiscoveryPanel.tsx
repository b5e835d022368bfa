/**
 * Discovery profiles (create, edit, delete) and their runs (islands/discovery_run.tsx shows
 * one): a started or opened run is followed (GET /discovery-runs/:id twice a second) until
 * it ends, and its URL (/discovery?run=N) opens it again. The islands are registered in
 * routes/pages/islands.ts; the other files here are their parts.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { api, ApiCallError, errorText, saveResource } from "./api.ts";
import { formErrorText } from "./field_errors.ts";
import { DeleteButton } from "./delete_button.tsx";
import { FINISHED, RunView } from "./discovery_run.tsx";
import { RecentRuns } from "./discovery_run_list.tsx";
import {
  type DiscoveryProfileRow,
  type DiscoveryRunView,
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
  /** the run named in the URL (?run=N), if any */
  openRun: DiscoveryRunView | null;
}

const POLL_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
        const form = e.currentTarget;
        const f = new FormData(form);
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
          error.value = formErrorText(form, err);
        }
      }}
    >
      <h2>{edit ? `Edit “${edit.name}”` : "New discovery profile"}</h2>
      <label>
        Name <input name="name" required maxLength={100} defaultValue={edit?.name ?? ""} />
      </label>
      <label>
        Credential profile
        <select name="credential" data-field="credential_profile_id" required>
          {credentials.map((c) => (
            <option key={c.id} value={c.id} selected={edit?.credential_profile_id === c.id}>
              {c.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Target (CIDR, range or list)
        <input
          name="target"
          required
          placeholder="192.168.1.0/24"
          defaultValue={edit?.target ?? ""}
        />
      </label>
      <label>
        Ports (optional, comma separated)
        <input name="ports" placeholder="5985, 5986" defaultValue={edit?.ports.join(", ") ?? ""} />
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
  const run = useSignal<DiscoveryRunView | null>(props.openRun);
  const runs = useSignal(props.runs);
  const error = useSignal<string | null>(null);
  const runError = useSignal<string | null>(null);
  // the run being followed; opening another one stops following the previous
  const followed = useRef(0);

  const show = (r: DiscoveryRunView) => {
    if (run.value?.id === r.id || run.value === null || followed.current === r.id) run.value = r;
    const rest = runs.value.filter((x) => x.id !== r.id);
    const summary = runSummary(r);
    runs.value = runs.value.some((x) => x.id === r.id)
      ? runs.value.map((x) => x.id === r.id ? summary : x)
      : [summary, ...rest].slice(0, 20);
  };
  const follow = async (r: DiscoveryRunView) => {
    followed.current = r.id;
    run.value = r;
    show(r);
    runError.value = null;
    let failures = 0;
    while (!FINISHED.has(r.status) && followed.current === r.id) {
      await sleep(failures ? 2_000 : POLL_MS);
      if (followed.current !== r.id) return;
      try {
        r = await api<DiscoveryRunView>("GET", `/discovery-runs/${r.id}`);
        failures = 0;
        runError.value = null;
        show(r);
      } catch (err) {
        runError.value = `Progress not updated: ${errorText(err)} Retrying…`;
        if (err instanceof ApiCallError && [401, 403, 404].includes(err.status)) return;
        failures++;
      }
    }
  };
  const open = async (id: number) => {
    error.value = null;
    try {
      const r = await api<DiscoveryRunView>("GET", `/discovery-runs/${id}`);
      history.pushState(null, "", `/discovery?run=${id}`);
      await follow(r);
    } catch (err) {
      error.value = errorText(err);
    }
  };
  const start = async (p: DiscoveryProfileRow) => {
    error.value = null;
    try {
      const r = await api<DiscoveryRunView>("POST", `/discovery-profiles/${p.id}/run`);
      history.pushState(null, "", `/discovery?run=${r.id}`);
      await follow(r);
    } catch (err) {
      error.value = errorText(err);
    }
  };
  const cancel = async (id: number) => {
    const r = await api<DiscoveryRunView>("POST", `/discovery-runs/${id}/cancel`);
    show(r);
    if (run.value?.id === id) run.value = r;
  };
  useEffect(() => {
    if (props.openRun && !FINISHED.has(props.openRun.status)) follow(props.openRun);
    const onPop = () => {
      const id = Number(new URLSearchParams(location.search).get("run"));
      if (id > 0) open(id);
      else {
        followed.current = 0;
        run.value = null;
      }
    };
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const profileOf = (id: number | null) => profiles.value.find((p) => p.id === id);
  const profileName = (id: number | null) => profileOf(id)?.name ?? "(deleted profile)";
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
                  <th scope="col">Site</th>
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
                    <td>{p.site ?? "local"}</td>
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
      {runError.value && <p class="error" role="alert">{runError.value}</p>}
      {run.value && (
        <RunView
          key={run.value.id}
          run={run.value}
          profile={profileName(run.value.discovery_profile_id)}
          credentialId={profileOf(run.value.discovery_profile_id)?.credential_profile_id ?? null}
          credentials={props.credentials}
          pluginId={props.pluginId}
          canEdit={props.canEdit}
          onCancel={() => cancel(run.value!.id)}
        />
      )}
      <h2>Recent runs</h2>
      <RecentRuns
        runs={runs.value}
        profileName={profileName}
        onOpen={open}
        openId={run.value?.id ?? null}
      />
    </div>
  );
}
