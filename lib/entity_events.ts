/**
 * Change events from the API (and services) to whoever keeps derived state: the pipeline
 * re-plans monitors in the scheduler and drops cached credentials when these arrive.
 */
export type EntityEvent =
  | { entity: "monitor"; id: number; action: "created" | "updated" | "deleted" }
  | { entity: "device"; id: number; action: "updated" | "deleted" }
  | { entity: "credential_profile"; id: number; action: "updated" | "deleted" }
  | { entity: "plugin"; id: number; action: "created" | "updated" | "deleted" }
  /** a node was revoked: processes drop the credential they had cached for it */
  | { entity: "poller_node"; id: number; action: "updated" }
  /**
   * events may have been missed (another central process's NOTIFYs while this one's listening
   * connection was re-established): drop whatever was derived from them
   */
  | { entity: "all"; action: "resync" };

export type EntityListener = (event: EntityEvent) => void;

export class EntityEvents {
  private readonly listeners = new Set<EntityListener>();

  subscribe(listener: EntityListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: EntityEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (err) {
        console.error("entity event listener failed", err);
      }
    }
  }
}
