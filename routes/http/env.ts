import type { System } from "../../lib/compose.ts";
import type { AccessClaims } from "../../lib/auth/tokens.ts";

/** What the HTTP layer is handed by the composition root. */
export type HttpDeps = System;

/** Hono environment: the typed context variables every handler can read. */
export interface AppEnv {
  Variables: {
    app: HttpDeps;
    user: AccessClaims;
    requestId: string;
  };
}
