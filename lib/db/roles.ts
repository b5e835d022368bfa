/** Viewers may only read; operators may change everything but users and the audit log. */
export type Role = "admin" | "operator" | "viewer";
export const ROLES: readonly Role[] = ["admin", "operator", "viewer"];
