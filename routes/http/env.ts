import type { AppContext } from "../../lib/app_context.ts";
import type { AccessClaims } from "../../lib/auth/tokens.ts";

/** Hono environment: the typed context variables every handler can read. */
export interface AppEnv {
  Variables: {
    app: AppContext;
    user: AccessClaims;
    requestId: string;
  };
}
