/**
 * The problems table: severity, device, what happened, since when, state; an operator
 * acknowledges an open problem with a comment (repeat notifications stop).
 */
import { useSignal } from "@preact/signals";
import { api, errorText } from "./api.ts";

export interface ProblemRow {
  id: number;
  severity: string;
  device_id: number;
  device_name: string;
  rule_name: string;
  instance: string;
  summary: string;
  state: "open" | "resolved";
  opened_at: string;
  resolved_at: string | null;
  acknowledged: boolean;
  acknowledged_by: string | null;
  ack_comment: string | null;
  in_maintenance: boolean;
}

export default function Problems({ rows, canEdit }: { rows: ProblemRow[]; canEdit: boolean }) {
  const list = useSignal(rows);
  const error = useSignal<string | null>(null);
  const note = useSignal<string | null>(null);
  if (!list.value.length) return <p class="muted" role="status">No problems match.</p>;
  return (
    <div>
      {error.value && <p class="error" role="alert">{error.value}</p>}
      {note.value && <p class="ok" role="status">{note.value}</p>}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Severity</th>
              <th scope="col">Device</th>
              <th scope="col">Problem</th>
              <th scope="col">Opened</th>
              <th scope="col">State</th>
              <th scope="col">Acknowledgement</th>
            </tr>
          </thead>
          <tbody>
            {list.value.map((p) => (
              <tr key={p.id} data-problem={p.id}>
                <td>
                  <span class={`badge sev-${p.severity}`}>{p.severity}</span>
                </td>
                <td>
                  <a href={`/devices/${p.device_id}`}>{p.device_name}</a>
                </td>
                <td>
                  {p.summary}
                  <div class="muted small">{p.rule_name}</div>
                </td>
                <td>
                  <time dateTime={p.opened_at}>{p.opened_at.replace("T", " ").slice(0, 19)}</time>
                </td>
                <td>
                  {p.state}
                  {p.state === "resolved" && p.resolved_at && (
                    <div class="muted small">{p.resolved_at.replace("T", " ").slice(0, 19)}</div>
                  )}
                  {p.in_maintenance && <div class="muted small">in maintenance</div>}
                </td>
                <td>
                  {p.acknowledged
                    ? (
                      <span>
                        by {p.acknowledged_by}
                        {p.ack_comment && <>: {p.ack_comment}</>}
                      </span>
                    )
                    : p.state === "open" && canEdit && (
                      <form
                        class="row-form"
                        aria-label={`Acknowledge problem ${p.id}`}
                        onSubmit={async (e) => {
                          e.preventDefault();
                          const comment = String(
                            new FormData(e.currentTarget).get("comment") ?? "",
                          );
                          error.value = null;
                          try {
                            const updated = await api<ProblemRow>(
                              "POST",
                              `/problems/${p.id}/acknowledge`,
                              { comment },
                            );
                            list.value = list.value.map((x) =>
                              x.id === p.id ? { ...x, ...updated } : x
                            );
                            note.value = `Problem ${p.id} acknowledged.`;
                          } catch (err) {
                            error.value = errorText(err);
                          }
                        }}
                      >
                        <label class="sr-only" for={`ack-${p.id}`}>Comment</label>
                        <input
                          id={`ack-${p.id}`}
                          name="comment"
                          maxLength={2000}
                          placeholder="comment"
                        />
                        <button type="submit">Acknowledge</button>
                      </form>
                    )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
