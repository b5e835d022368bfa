/**
 * Relays entity change events between central processes (lib/db/notify.ts): what happens
 * here is published, what another process publishes is emitted here as if it had happened
 * here (its own events are recognised by the process id and skipped).
 */
import { getLogger } from "@logtape/logtape";
import type { EntityEvent, EntityEvents } from "../entity_events.ts";
import type { Notifier } from "../db/notify.ts";

const log = getLogger(["nmslite", "nodes", "relay"]);
export const ENTITY_CHANNEL = "nmslite_entity";

export class EventRelay {
  private readonly origin = crypto.randomUUID();
  private relaying = false;
  private unsubscribe?: () => void;

  constructor(private readonly events: EntityEvents, readonly notifier: Notifier) {}

  async start(): Promise<void> {
    await this.notifier.listen(ENTITY_CHANNEL, (payload) => {
      let msg: { origin: string; event: EntityEvent };
      try {
        msg = JSON.parse(payload);
      } catch {
        return;
      }
      if (msg.origin === this.origin) return;
      this.relaying = true;
      try {
        this.events.emit(msg.event);
      } finally {
        this.relaying = false;
      }
    });
    this.unsubscribe = this.events.subscribe((event) => {
      if (this.relaying) return;
      this.notifier.publish(ENTITY_CHANNEL, JSON.stringify({ origin: this.origin, event }))
        .catch((err) =>
          log.warn("cannot tell the other central processes of a change: {message}", {
            message: (err as Error).message,
          })
        );
    });
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.notifier.close();
  }
}
