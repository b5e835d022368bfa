import type { System } from "../../lib/compose.ts";
import type { AccessClaims } from "../../lib/auth/tokens.ts";
import type { NodeIdentity } from "../../lib/db/poller_nodes.ts";

/**
 * What the HTTP layer is handed by the composition root: the services it calls, the tokens
 * and login throttle of the session routes, the database for the pages' and metrics' read
 * models, and the health and self-metrics reports. Nothing of the monitoring runtime.
 */
export type HttpDeps = Pick<
  System,
  | "db"
  | "config"
  | "services"
  | "accessTokens"
  | "loginThrottle"
  | "health"
  | "selfMetrics"
  | "pollerLoad"
  | "nodeHub"
  | "ingest"
>;

/** Hono environment: the typed context variables every handler can read. */
export interface AppEnv {
  Variables: {
    app: HttpDeps;
    user: AccessClaims;
    requestId: string;
    /** the poller node behind a node credential (routes/api/v1/node_protocol.ts) */
    node: NodeIdentity;
  };
}
