/**
 * Where a refused form went wrong. The inputs the API named (`details.field`, and
 * `details.issues[].field` of a VALIDATION_ERROR; a CONFLICT names its field too) get
 * `aria-invalid`, so they are outlined and a
 * screen reader says so, and the first of them takes the focus; the sentence itself stays under
 * the form, where `role="alert"` reads it out. An input is found by its name, or by `data-field`
 * where the form's name differs from the API's (a select named `credential` for
 * `credential_profile_id`). Editing a marked input clears its mark; the next refusal replaces
 * all of them.
 */
import { ApiCallError, errorText } from "./api.ts";

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;

function namedFields(err: unknown): string[] {
  if (!(err instanceof ApiCallError)) return [];
  const names: string[] = [];
  const issues = Array.isArray(err.details.issues) ? err.details.issues : [];
  for (const i of issues) {
    const field = (i as { field?: unknown })?.field;
    if (typeof field === "string") names.push(field);
  }
  if (typeof err.details.field === "string") names.push(err.details.field);
  return [...new Set(names.filter((n) => n && n !== "(body)"))];
}

function byName(form: HTMLFormElement, name: string): Field | null {
  const escaped = CSS.escape(name);
  return form.querySelector<Field>(
    `[data-field="${escaped}"], input[name="${escaped}"], select[name="${escaped}"], ` +
      `textarea[name="${escaped}"]`,
  );
}

/**
 * "scope.tag" is the input "tag"; "ports.1" the list in the input "ports"; "settings.url" the
 * JSON in the input "settings": the whole path, then its last name, then its first.
 */
function findField(form: HTMLFormElement, path: string): Field | null {
  const parts = path.split(".");
  const last = parts.findLast((p) => !/^\d+$/.test(p));
  for (const name of new Set([path, last, parts[0]])) {
    const found = name ? byName(form, name) : null;
    if (found) return found;
  }
  return null;
}

function unmark(e: Event) {
  const target = e.target as Element | null;
  if (target?.getAttribute("aria-invalid") === "true") target.removeAttribute("aria-invalid");
}

/** Marks what `err` names in `form` (and clears earlier marks); returns how many were marked. */
export function markInvalidFields(form: HTMLFormElement, err: unknown): number {
  for (const old of form.querySelectorAll('[aria-invalid="true"]')) {
    old.removeAttribute("aria-invalid");
  }
  const fields = namedFields(err).map((n) => findField(form, n)).filter((f) => f !== null);
  if (!fields.length) return 0;
  for (const f of fields) f.setAttribute("aria-invalid", "true");
  if (!form.dataset.invalidWatch) {
    form.dataset.invalidWatch = "1";
    form.addEventListener("input", unmark);
    form.addEventListener("change", unmark);
  }
  fields[0].focus();
  return fields.length;
}

/** The refusal in words (`errorText`), with the fields it names marked in `form`. */
export function formErrorText(form: HTMLFormElement, err: unknown): string {
  markInvalidFields(form, err);
  return errorText(err);
}
