/** A real database outage under a running test server. */
import postgres from "postgres";
import type { TestServer } from "./server.ts";

/**
 * PostgreSQL: refuses new connections to the server's scratch database and ends the open ones;
 * returns the way back. PGlite, being in-process, can only be closed: returns undefined.
 */
export async function takeDatabaseDown(
  s: TestServer,
): Promise<(() => Promise<void>) | undefined> {
  if (!s.scratch) {
    await s.ctx.db.close();
    // The server's close() closes the database again; it is already closed.
    (s.ctx.db as { close(): Promise<void> }).close = () => Promise.resolve();
    return undefined;
  }
  const name = new URL(s.scratch.url).pathname.slice(1);
  const admin = postgres(Deno.env.get("TEST_DATABASE_URL")!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
  await admin.unsafe(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${name}'`,
  );
  return async () => {
    await admin.unsafe(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await admin.end();
  };
}
