import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import type { Actor } from "../../lib/audit.ts";

export function actorOf(c: Context<AppEnv>): Actor {
  const user = c.get("user");
  return {
    userId: user?.userId ?? null,
    username: user?.username ?? null,
    requestId: c.get("requestId"),
  };
}
