/**
 * Relays entity change events between central processes (lib/db/notify.ts): what happens
 * here is published, what another process publishes is emitted here as if it had happened
 * here (its own events are recognised by the process id and skipped). When the listening
 * connection comes back after a break, what was published meanwhile is gone: the relay emits
 * a `resync` event here, and caches kept up to date by events start afresh.
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
    let listens = 0;
    await this.notifier.listen(ENTITY_CHANNEL, (payload) => {
      let msg: { origin: string; event: EntityEvent };
      try {
        msg = JSON.parse(payload);
      } catch {
        return;
      }
      if (msg.origin === this.origin) return;
      this.relay(msg.event);
    }, () => {
      if (listens++ === 0) return;
      log.warn("listening again after a break: changes made meanwhile are read afresh");
      this.relay({ entity: "all", action: "resync" });
    });
    this.unsubscribe = this.events.subscribe((event) => {
      if (this.relaying || event.entity === "all") return;
      this.notifier.publish(ENTITY_CHANNEL, JSON.stringify({ origin: this.origin, event }))
        .catch((err) =>
          log.warn("cannot tell the other central processes of a change: {message}", {
            message: (err as Error).message,
          })
        );
    });
  }

  /** `event` emitted here, and not published again */
  private relay(event: EntityEvent): void {
    this.relaying = true;
    try {
      this.events.emit(event);
    } finally {
      this.relaying = false;
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.notifier.close();
  }
}
