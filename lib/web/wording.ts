/**
 * What the dashboard says instead of codes: API errors, field names, credential types and the
 * reasons a host was not identified, written for the person at the screen. Pure functions
 * (the islands' bundle includes this file); scripts keep the API's codes.
 */

const CREDENTIAL_TYPES: Record<string, string> = {
  winrm_ntlm: "WinRM with Windows (NTLM) sign-in",
  winrm_basic: "WinRM with Basic sign-in",
  winrm_kerberos: "WinRM with Kerberos (domain) sign-in",
  wmi: "WMI (DCOM)",
};

/** "winrm_ntlm" -> "WinRM with Windows (NTLM) sign-in"; an unknown type is shown as it is. */
export function credentialTypeLabel(type: string): string {
  return CREDENTIAL_TYPES[type] ?? type;
}

const FIELDS: Record<string, string> = {
  ip: "IP address",
  target: "Target",
  ports: "Ports",
  port: "Port",
  name: "Name",
  username: "Username",
  password: "Password",
  current_password: "Current password",
  new_password: "New password",
  role: "Role",
  type: "Type",
  domain: "Domain",
  polling_interval: "Interval",
  credential_profile_id: "Credential profile",
  discovery_profile_id: "Discovery profile",
  device_id: "Device",
  plugin_id: "Plugin",
  use_ssl: "Use HTTPS",
  tls_ca_pem: "CA certificate",
  hostname: "Host name",
  status: "Status",
};

/** "polling_interval" -> "Interval"; "ports.2" -> "Ports"; unknown names lose their underscores. */
export function fieldLabel(field: string): string {
  const head = field.split(".")[0];
  return FIELDS[head] ??
    head.replace(/_id$/, "").replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
}

/** zod's wording ("Too small: expected string to have >=8 characters") in plain words. */
function plainRule(text: string): string {
  let m = /expected (?:string|array) to have >=?(\d+) (?:characters|items)/i.exec(text);
  if (m) return `must be at least ${m[1]} ${/array/.test(text) ? "items" : "characters"} long`;
  m = /expected (?:string|array) to have <=?(\d+) (?:characters|items)/i.exec(text);
  if (m) return `must be at most ${m[1]} characters long`;
  m = /expected number to be >=?(-?\d+)/i.exec(text);
  if (m) return `must be ${m[1]} or more`;
  m = /expected number to be <=?(-?\d+)/i.exec(text);
  if (m) return `must be ${m[1]} or less`;
  m = /expected one of (.*)$/i.exec(text);
  if (m) {
    const options = m[1].split("|").map((o) => o.replaceAll('"', "").trim());
    const named = options.map((o) => CREDENTIAL_TYPES[o] ?? o);
    return `must be one of: ${named.join(", ")}`;
  }
  if (/expected number, received (NaN|string)/i.test(text)) return "must be a number";
  if (/expected .*, received undefined/i.test(text) || /^Required$/i.test(text)) {
    return "is required";
  }
  return text;
}

/** "ip: must be a valid IPv4 address" -> "IP address must be a valid IPv4 address." */
function validationSentence(message: string, field?: string): string {
  const m = /^([\w.()]+): (.*)$/s.exec(message);
  const name = field ?? m?.[1];
  const rule = plainRule(m ? m[2] : message).replace(/\.$/, "");
  if (!name || name === "(body)") return sentence(rule);
  const verb = /^(must|is|are|should|cannot|can't|has|was) /i.test(rule);
  return `${fieldLabel(name)}${verb ? " " : ": "}${rule}.`;
}

const MAX_ISSUES_SHOWN = 3;

/**
 * Every rule a form broke, not only the first (the API's `details.issues`): "Ports (value 1)
 * must be 1 or more. Ports (value 2) must be 65535 or less." Values of a list are numbered
 * from 1; past three, how many more problems there are.
 */
function validationSentences(e: ApiErrorLike, field?: string): string {
  const issues = Array.isArray(e.details?.issues)
    ? (e.details.issues as unknown[]).filter((i): i is { field: string; message: string } =>
      typeof (i as { field?: unknown })?.field === "string" &&
      typeof (i as { message?: unknown })?.message === "string"
    )
    : [];
  if (issues.length < 2) return validationSentence(e.message, field);
  const sentences = [
    ...new Set(issues.map((i) => {
      const item = /^[^.]+\.(\d+)$/.exec(i.field);
      const said = validationSentence(`${i.field}: ${i.message}`, i.field);
      if (!item) return said;
      const label = fieldLabel(i.field);
      return `${label} (value ${Number(item[1]) + 1})${said.slice(label.length)}`;
    })),
  ];
  const shown = sentences.slice(0, MAX_ISSUES_SHOWN).join(" ");
  const more = sentences.length - MAX_ISSUES_SHOWN;
  return more > 0 ? `${shown} ${more} more ${more === 1 ? "problem" : "problems"}.` : shown;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  // "http://host:5985: …" keeps its lower-case scheme
  const t = /^[a-z]+:\/\//.test(trimmed) ? trimmed : trimmed.replace(/^./, (c) => c.toUpperCase());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

function minutes(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} seconds`;
  return `${Math.round(seconds / 60)} minutes`;
}

/** The API's refusals that say only that the role is too low (routes/http/auth.ts sends them). */
export const VIEWERS_READ_ONLY = "viewers may not change anything";
export function roleRequired(roles: readonly string[]): string {
  return `this requires the ${roles.join(" or ")} role`;
}
const ROLE_CHECK = /^this requires the \w+( or \w+)* role$/;

export interface ApiErrorLike {
  status: number;
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** One sentence or two for a failed API call, without the code. */
export function explainApiError(e: ApiErrorLike): string {
  const field = typeof e.details?.field === "string" ? e.details.field : undefined;
  switch (e.code) {
    case "VALIDATION_ERROR":
      return validationSentences(e, field);
    case "WRONG_PASSWORD":
      return "The current password is not correct.";
    case "INVALID_CREDENTIALS":
      return "The username or password is not correct.";
    case "TOO_MANY_REQUESTS": {
      const wait = Number(e.details?.retry_after_seconds);
      return `Too many wrong passwords. Try again in ${
        Number.isFinite(wait) && wait > 0 ? minutes(wait) : "a few minutes"
      }.`;
    }
    case "FORBIDDEN":
      // the role checks (routes/http/auth.ts) say only that the role is too low; a refusal
      // with its own reason (an operator testing a credential on an unknown address) says it
      return e.message === VIEWERS_READ_ONLY || ROLE_CHECK.test(e.message)
        ? "Your role does not allow this. Ask an admin if you need it."
        : sentence(e.message);
    case "CSRF_FAILED":
      return "This page is out of date. Reload it and try again.";
    case "NOT_FOUND":
      return "It is no longer there (someone may have deleted it). Reload the page.";
    case "CONFLICT":
      return sentence(e.message);
    case "LAST_ADMIN":
      return "There must always be one admin: make another user an admin first.";
    case "IN_USE":
      return sentence(e.message);
    case "PAYLOAD_TOO_LARGE":
      return "That is too much data to send at once.";
    case "DATABASE_UNAVAILABLE":
      return "The database cannot be reached right now. Try again shortly.";
    case "UNAVAILABLE":
    case "SERVICE_UNAVAILABLE":
      return `The server cannot do this right now: ${e.message}. Try again shortly.`;
    case "SESSION_ENDED":
      return "Your session has ended. Please log in again.";
    case "NETWORK":
      return "The server could not be reached. Check the connection and try again.";
  }
  if (e.status >= 500) {
    return "Something went wrong on the server. Try again; if it keeps happening, the server " +
      "log has the details.";
  }
  if (e.status === 400) return validationSentence(e.message, field);
  return sentence(e.message);
}

const PROBE_KINDS: Record<string, string> = {
  auth: "the credential was refused",
  tls: "the HTTPS certificate was not accepted",
  timeout: "it did not answer in time",
  connection: "the connection failed",
  wsman_fault: "WinRM answered with an error",
  protocol: "it did not answer like WinRM",
  config: "the credential profile cannot be used this way",
};

/**
 * Why a host was found but not identified, from the reason a run stored ("auth: rejected
 * the user name or password", "WinRM port 5985 is closed (open: 135)").
 */
export function explainUnidentified(reason: string): { summary: string; detail: string } {
  const closed = /^WinRM port (\d+) is closed \(open: ([\d, ]+)\)/.exec(reason);
  if (closed) {
    return {
      summary: `WinRM port ${closed[1]} is closed`,
      detail: `Only port ${closed[2]} answered: WinRM may be off, or a firewall blocks it.`,
    };
  }
  const m = /^(\w+): (.*)$/s.exec(reason);
  if (m?.[1] === "cancelled") {
    return {
      summary: "The run was cancelled",
      detail: "It was cancelled before this host answered.",
    };
  }
  const kind = m && PROBE_KINDS[m[1]];
  if (kind) return { summary: sentence(kind).replace(/\.$/, ""), detail: sentence(m[2]) };
  return { summary: "Not identified", detail: sentence(reason) };
}
