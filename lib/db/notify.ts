/**
 * PostgreSQL LISTEN/NOTIFY between central processes serving one database: a change made
 * through one process (a monitor edited, a node revoked) reaches the others within
 * milliseconds, so the nodes connected to them get their new work at once. One dedicated
 * connection per process; postgres.js re-listens after a reconnect, and what was sent while the
 * connection was down is lost: `onListen` runs at every (re)listen so a listener can resync.
 */
import postgres from "postgres";

export interface Notifier {
  publish(channel: string, payload: string): Promise<void>;
  listen(
    channel: string,
    onPayload: (payload: string) => void,
    onListen?: () => void,
  ): Promise<void>;
  close(): Promise<void>;
}

export function openNotifier(url: string): Notifier {
  const sql = postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { application_name: "nmslite-notify" },
  });
  return {
    async publish(channel, payload) {
      await sql`SELECT pg_notify(${channel}, ${payload})`;
    },
    async listen(channel, onPayload, onListen) {
      await sql.listen(channel, onPayload, onListen);
    },
    async close() {
      await sql.end({ timeout: 2 });
    },
  };
}
