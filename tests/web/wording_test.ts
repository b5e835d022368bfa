/** The dashboard's wording for API errors, credential types and discovery reasons. */
import { assertEquals } from "../helpers/assert.ts";
import {
  credentialTypeLabel,
  explainApiError,
  explainUnidentified,
} from "../../lib/web/wording.ts";

Deno.test("validation errors name the field in words, without the code", () => {
  assertEquals(
    explainApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: "ip: must be a valid IPv4 address",
      details: { field: "ip" },
    }),
    "IP address must be a valid IPv4 address.",
  );
  assertEquals(
    explainApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: "new_password: Too small: expected string to have >=8 characters",
      details: { field: "new_password" },
    }),
    "New password must be at least 8 characters long.",
  );
  assertEquals(
    explainApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: 'type: Invalid option: expected one of "winrm_basic"|"winrm_ntlm"|"wmi"',
    }),
    "Type must be one of: WinRM with Basic sign-in, WinRM with Windows (NTLM) sign-in, WMI (DCOM).",
  );
  assertEquals(
    explainApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: "polling_interval: Too small: expected number to be >=10",
    }),
    "Interval must be 10 or more.",
  );
  assertEquals(
    explainApiError({
      status: 400,
      code: "VALIDATION_ERROR",
      message: 'target: "10.0.0.300" is not a valid IPv4 address, CIDR or range',
      details: { field: "target" },
    }),
    'Target: "10.0.0.300" is not a valid IPv4 address, CIDR or range.',
  );
});

Deno.test("every broken rule of a form is named, list values by number", () => {
  const issues = [
    { field: "ports.0", message: "Too small: expected number to be >=1" },
    { field: "ports.1", message: "Too big: expected number to be <=65535" },
  ];
  const error = {
    status: 400,
    code: "VALIDATION_ERROR",
    message: "ports.0: Too small: expected number to be >=1",
    details: { field: "ports.0", issues },
  };
  assertEquals(
    explainApiError(error),
    "Ports (value 1) must be 1 or more. Ports (value 2) must be 65535 or less.",
  );
  const five = [
    ...issues,
    { field: "name", message: "Too big: expected string to have <=100 characters" },
    { field: "ports.3", message: "Too small: expected number to be >=1" },
    { field: "polling_interval", message: "Too small: expected number to be >=10" },
  ];
  assertEquals(
    explainApiError({ ...error, details: { field: "ports.0", issues: five } }),
    "Ports (value 1) must be 1 or more. Ports (value 2) must be 65535 or less. " +
      "Name must be at most 100 characters long. 2 more problems.",
  );
  // one issue, or details without a usable list, read as before
  assertEquals(
    explainApiError({ ...error, details: { field: "ports.0", issues: [issues[0]] } }),
    "Ports must be 1 or more.",
  );
  assertEquals(
    explainApiError({ ...error, details: { field: "ports.0", issues: "x" } }),
    "Ports must be 1 or more.",
  );
});

Deno.test("other errors in words", () => {
  const cases: [string, number, string, Record<string, unknown>, string][] = [
    ["WRONG_PASSWORD", 403, "x", {}, "The current password is not correct."],
    [
      "TOO_MANY_REQUESTS",
      429,
      "x",
      { retry_after_seconds: 900 },
      "Too many wrong passwords. Try again in 15 minutes.",
    ],
    [
      "FORBIDDEN",
      403,
      "viewers may not change anything",
      {},
      "Your role does not allow this. Ask an admin if you need it.",
    ],
    [
      "FORBIDDEN",
      403,
      "this requires the admin or operator role",
      {},
      "Your role does not allow this. Ask an admin if you need it.",
    ],
    [
      "FORBIDDEN",
      403,
      "10.9.9.9 is not a known device: an operator may test a credential only against a device " +
      "NMSlite knows; add it as a device first, or ask an admin to test it",
      {},
      "10.9.9.9 is not a known device: an operator may test a credential only against a device " +
      "NMSlite knows; add it as a device first, or ask an admin to test it.",
    ],
    [
      "CONFLICT",
      409,
      "a device with ip 10.0.0.1 already exists",
      {},
      "A device with ip 10.0.0.1 already exists.",
    ],
    [
      "INTERNAL_ERROR",
      500,
      "boom",
      {},
      "Something went wrong on the server. Try again; if it keeps happening, the server log has the details.",
    ],
  ];
  for (const [code, status, message, details, want] of cases) {
    const got = explainApiError({ code, status, message, details });
    assertEquals(got, want, code);
    assertEquals(got.includes(code), false);
  }
});

Deno.test("credential types and discovery reasons", () => {
  assertEquals(credentialTypeLabel("winrm_ntlm"), "WinRM with Windows (NTLM) sign-in");
  assertEquals(credentialTypeLabel("something_new"), "something_new");
  assertEquals(explainUnidentified("WinRM port 5985 is closed (open: 135)"), {
    summary: "WinRM port 5985 is closed",
    detail: "Only port 135 answered: WinRM may be off, or a firewall blocks it.",
  });
  assertEquals(explainUnidentified("auth: the server rejected the user name or password"), {
    summary: "The credential was refused",
    detail: "The server rejected the user name or password.",
  });
  assertEquals(
    explainUnidentified("protocol: http://10.0.0.5:5985: expected an NTLM challenge").detail,
    "http://10.0.0.5:5985: expected an NTLM challenge.",
  );
});
