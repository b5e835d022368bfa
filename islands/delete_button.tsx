/**
 * A confirmed DELETE of one resource, shared by the islands' tables (a part, not an island:
 * it is hydrated inside the island that renders it).
 */
import { api, errorText } from "./api.ts";

export function DeleteButton(props: {
  /** what the confirmation names, e.g. "credential profile Lab" */
  what: string;
  /** API path of the resource */
  path: string;
  onDeleted(): void;
  onError(message: string): void;
}) {
  return (
    <button
      type="button"
      class="danger"
      onClick={async () => {
        if (!confirm(`Delete ${props.what}?`)) return;
        try {
          await api("DELETE", props.path);
          props.onDeleted();
        } catch (err) {
          props.onError(errorText(err));
        }
      }}
    >
      Delete
    </button>
  );
}
