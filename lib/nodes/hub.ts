/**
 * The central side of the poller nodes connected to this process: each holds a server-sent
 * events channel on which it receives its assignment (its share of its site's monitors, by
 * rendezvous over the site's live nodes, with the plugins and decrypted credentials they use)
 * and commands. A change to monitors, devices, credentials or plugins reaches the node within
 * a debounce (~50 ms); a node joining or leaving its site is noticed at the next tick (1 s).
 * Nodes connected to other central processes are served by those processes, from the same
 * database, so they compute the same assignment.
 */
import { getLogger } from "@logtape/logtape";
import type { Database } from "../db/driver.ts";
import type { Keyring } from "../crypto/secrets.ts";
import type { EntityEvents } from "../entity_events.ts";
import type { Credential } from "../messages.ts";
import { monitorsRepo } from "../db/monitors.ts";
import { pluginsRepo } from "../db/plugins.ts";
import {
  type NodeIdentity,
  type NodeReportRow,
  pollerNodesRepo,
  type PollerNodeStats,
} from "../db/poller_nodes.ts";
import { decryptCredential } from "../inventory/credential_profiles.ts";
import { ownerOf } from "./rendezvous.ts";
import type {
  ChannelMessage,
  NodeAssignment,
  NodeCommand,
  NodeCommandBody,
  NodeReport,
} from "./protocol.ts";
import type { Notifier } from "../db/notify.ts";

const COMMAND_CHANNEL = "nmslite_node_command";
const REPORT_CHANNEL = "nmslite_node_report";
/** how long a node has to confirm a cancel (nobody waits for it) */
const CANCEL_TIMEOUT_MS = 10_000;

/** No node of the site can take the work now. */
export class NoLiveNodeError extends Error {
  override name = "NoLiveNodeError";
}

const log = getLogger(["nmslite", "nodes"]);
const encoder = new TextEncoder();

export interface NodeHubOptions {
  /** how often nodes send a heartbeat */
  heartbeatMs: number;
  /** a node whose last heartbeat is older is not live: its monitors go to the others */
  heartbeatTimeoutMs: number;
}

interface Channel {
  node: NodeIdentity;
  /** credentials are sent only over TLS (here or at a trusted proxy) */
  secure: boolean;
  controller: ReadableStreamDefaultController<Uint8Array>;
  lastSent?: string;
  keepalive: ReturnType<typeof setInterval>;
}

export class NodeHub {
  private readonly channels = new Map<number, Channel>();
  /** site -> its live node ids as last computed ("1,4,7") */
  private readonly liveBySite = new Map<number, string>();
  private readonly pending = new Map<
    string,
    { done: (r: NodeReport) => void; partial?: (r: NodeReport) => void }
  >();
  /** reports that came with ingest requests since the last tick, by node id */
  private readonly reports = new Map<number, NodeReportRow>();
  private debounce?: ReturnType<typeof setTimeout>;
  private ticker?: ReturnType<typeof setInterval>;
  private unsubscribe?: () => void;
  private recomputing = Promise.resolve();

  constructor(
    private readonly deps: { db: Database; keyring: Keyring; events: EntityEvents },
    readonly opts: NodeHubOptions,
  ) {}

  start(): void {
    this.unsubscribe = this.deps.events.subscribe((event) => {
      // a node revoked (here or on another process) loses its channel now, not at the tick
      if (event.entity === "poller_node") void this.tick();
      this.changed();
    });
    this.ticker = setInterval(() => void this.tick(), 1_000);
  }

  private notifier?: Notifier;
  private readonly origin = crypto.randomUUID();
  /** commands relayed from another process and running on a node here: their id -> ours */
  private readonly relayed = new Map<string, string>();

  /**
   * Commands for nodes connected to other central processes go through PostgreSQL NOTIFY;
   * the process holding the node's channel runs it and NOTIFYs the report back.
   */
  async relayCommands(notifier: Notifier): Promise<void> {
    this.notifier = notifier;
    await notifier.listen(COMMAND_CHANNEL, (payload) => {
      const msg = JSON.parse(payload) as {
        origin: string;
        nodeId: number;
        cmd: NodeCommandBody;
        timeoutMs: number;
        id: string;
      };
      // the node runs it under an id of this process (its reports come back through here); a
      // cancel relayed later names the asking process's id, so it is translated
      const cmd = msg.cmd.kind === "cancel"
        ? { ...msg.cmd, commandId: this.relayed.get(msg.cmd.commandId) ?? msg.cmd.commandId }
        : msg.cmd;
      const localId = crypto.randomUUID();
      const running = this.command(
        msg.nodeId,
        cmd,
        msg.timeoutMs,
        (partial) =>
          void notifier.publish(
            REPORT_CHANNEL,
            JSON.stringify({ origin: msg.origin, report: { ...partial, id: msg.id } }),
          ).catch(() => {}),
        localId,
      );
      if (!running) return; // not connected here
      this.relayed.set(msg.id, localId);
      void running.then((report) => {
        this.relayed.delete(msg.id);
        return notifier.publish(
          REPORT_CHANNEL,
          JSON.stringify({ origin: msg.origin, report: { ...report, id: msg.id } }),
        );
      });
    });
    await notifier.listen(REPORT_CHANNEL, (payload) => {
      const msg = JSON.parse(payload) as { origin: string; report: NodeReport };
      if (msg.origin === this.origin || msg.origin === "any") this.resolve(msg.report);
    });
  }

  /**
   * Runs a command on a live node of the site (one connected here first, else through
   * another central process); resolves with its report.
   */
  async onSite(
    site: number,
    cmd: NodeCommandBody,
    timeoutMs: number,
    onPartial?: (r: NodeReport) => void,
    signal?: AbortSignal,
  ): Promise<NodeReport> {
    // Only a node the database still counts live: a channel here may belong to a node revoked
    // a moment ago (its channel closes at the next tick) or one whose peer went silently.
    const live = await this.liveNodes(site);
    const here = [...this.channels.values()].find((c) =>
      c.node.site_id === site && c.secure && live.includes(c.node.id)
    );
    const id = crypto.randomUUID();
    if (here) {
      const answer = this.command(here.node.id, cmd, timeoutMs, onPartial, id)!;
      this.cancelOnAbort(signal, here.node.id, id, answer);
      return await answer;
    }
    if (!live.length || !this.notifier) {
      throw new NoLiveNodeError(`no poller node of site ${site} is connected now`);
    }
    const answer = this.waitFor(id, timeoutMs + 1_000, "no node answered", onPartial);
    await this.relay(live[0], cmd, timeoutMs, id);
    this.cancelOnAbort(signal, live[0], id, answer);
    return await answer;
  }

  /**
   * When the caller gives up on command `id` (an operator cancelled the discovery run), the
   * node is told to stop it: directly when its channel is here, else through the central
   * process that holds it. Nothing is sent once the command has ended.
   */
  private cancelOnAbort(
    signal: AbortSignal | undefined,
    nodeId: number,
    id: string,
    answer: Promise<NodeReport>,
  ): void {
    if (!signal) return;
    const cancel = () => {
      const body: NodeCommandBody = { kind: "cancel", commandId: id };
      const cancelId = crypto.randomUUID();
      if (this.channels.has(nodeId)) {
        void this.command(nodeId, body, CANCEL_TIMEOUT_MS, undefined, cancelId);
      } else {
        this.relay(nodeId, body, CANCEL_TIMEOUT_MS, cancelId).catch(() => {});
      }
    };
    if (signal.aborted) return cancel();
    signal.addEventListener("abort", cancel, { once: true });
    void answer.finally(() => signal.removeEventListener("abort", cancel));
  }

  /** Asks the central process that holds the node's channel to run the command (NOTIFY). */
  private async relay(nodeId: number, cmd: NodeCommandBody, timeoutMs: number, id: string) {
    await this.notifier?.publish(
      COMMAND_CHANNEL,
      JSON.stringify({ origin: this.origin, nodeId, cmd, timeoutMs, id }),
    );
  }

  stop(): void {
    clearInterval(this.ticker);
    clearTimeout(this.debounce);
    this.unsubscribe?.();
    for (const ch of [...this.channels.values()]) this.close(ch);
  }

  /** Something nodes derive their work from changed: recompute every site served here. */
  changed(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.recomputeAll(), 50);
  }

  connected(): number[] {
    return [...this.channels.keys()];
  }

  /** Opens the node's channel; a second connection of the same node replaces the first. */
  async open(node: NodeIdentity, secure: boolean): Promise<ReadableStream<Uint8Array>> {
    await pollerNodesRepo.touch(this.deps.db, [node.id]).catch(() => {});
    const old = this.channels.get(node.id);
    if (old) this.close(old);
    let channel: Channel | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        channel = {
          node,
          secure,
          controller,
          keepalive: setInterval(() => {
            try {
              controller.enqueue(encoder.encode(": keepalive\n\n"));
            } catch { /* closed */ }
          }, 15_000),
        };
        this.channels.set(node.id, channel);
        controller.enqueue(encoder.encode(": connected\n\n"));
      },
      cancel: () => {
        if (channel && this.channels.get(node.id) === channel) this.forget(channel);
      },
    });
    log.info("poller node {id} ({name}) connected", { id: node.id, name: node.name });
    this.liveBySite.delete(node.site_id); // force a recompute of its site
    this.changed();
    return stream;
  }

  /** Records a heartbeat; a node that was not live makes its site recompute. */
  async heartbeat(node: NodeIdentity, version: string, stats: PollerNodeStats): Promise<void> {
    this.reports.delete(node.id); // older than this one
    await pollerNodesRepo.heartbeat(this.deps.db, node.id, version, stats);
  }

  /**
   * A heartbeat that came with an ingest request: as good a sign of life as a heartbeat of its
   * own, and written by the next tick (its one statement a second) instead of a statement of
   * its own, so a node that ships results needs no heartbeat requests.
   */
  noteReport(node: NodeIdentity, version: string, stats: PollerNodeStats): void {
    this.reports.set(node.id, { id: node.id, version, stats });
  }

  /** Asks a node connected here to do something; resolves with its report. */
  command(
    nodeId: number,
    cmd: NodeCommandBody,
    timeoutMs: number,
    onPartial?: (r: NodeReport) => void,
    id: string = crypto.randomUUID(),
  ) {
    const ch = this.channels.get(nodeId);
    // commands carry credentials: only over TLS
    if (!ch || !ch.secure) return undefined;
    const answer = this.waitFor(id, timeoutMs, "the node did not answer", onPartial);
    this.send(ch, { ...cmd, id, type: "command" } as NodeCommand);
    return answer;
  }

  /** The site's live nodes (heartbeat current), in id order. */
  live(site: number): Promise<number[]> {
    return this.liveNodes(site);
  }

  /**
   * The final report of command `id`, or a timeout one; for a long command, every partial
   * report goes to `onPartial` and starts the timeout over (it bounds silence, not length).
   */
  private waitFor(
    id: string,
    timeoutMs: number,
    message: string,
    onPartial?: (r: NodeReport) => void,
  ): Promise<NodeReport> {
    return new Promise<NodeReport>((resolve) => {
      const expire = () => {
        this.pending.delete(id);
        resolve({ id, ok: false, error: { kind: "timeout", message } });
      };
      let timer = setTimeout(expire, timeoutMs);
      this.pending.set(id, {
        done: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        partial: (r) => {
          clearTimeout(timer);
          timer = setTimeout(expire, timeoutMs);
          onPartial?.(r);
        },
      });
    });
  }

  /**
   * A node's answer to a command. It may reach another central process than the one that
   * asked (the load balancer chooses): then it is passed on to all of them by NOTIFY.
   */
  report(report: NodeReport): boolean {
    if (this.resolve(report)) return true;
    if (!this.notifier) return false;
    this.notifier.publish(REPORT_CHANNEL, JSON.stringify({ origin: "any", report })).catch(
      () => {},
    );
    return true;
  }

  private resolve(report: NodeReport): boolean {
    const waiter = this.pending.get(report.id);
    if (!waiter) return false;
    if (report.partial) {
      waiter.partial?.(report);
      return true;
    }
    this.pending.delete(report.id);
    waiter.done(report);
    return true;
  }

  private recomputeAll(): void {
    const sites = new Set([...this.channels.values()].map((c) => c.node.site_id));
    this.recomputing = this.recomputing.then(async () => {
      for (const site of sites) {
        await this.recomputeSite(site).catch((err) =>
          log.error("cannot assign work of site {site}: {message}", {
            site,
            message: (err as Error).message,
          })
        );
      }
    });
  }

  private async tick(): Promise<void> {
    if (this.channels.size === 0 && this.reports.size === 0) return;
    try {
      // One statement a second (each costs the central a wake-up): an open channel is a sign
      // of life as good as a heartbeat, so this process vouches for the nodes connected to it
      // (a node is not given up while only its posts fail) and writes the reports that came
      // with ingest requests, learns which were revoked meanwhile (here or on another
      // process: their channel ends now), and which nodes of its sites are live.
      const reports = [...this.reports.values()];
      this.reports.clear();
      const ids = [...new Set([...this.channels.keys(), ...reports.map((r) => r.id)])];
      const sites = [...new Set([...this.channels.values()].map((c) => c.node.site_id))];
      const { enrolled, live } = await pollerNodesRepo.touchAndLive(
        this.deps.db,
        ids,
        sites,
        this.opts.heartbeatTimeoutMs,
        reports,
      );
      const ok = new Set(enrolled);
      for (const id of ids) {
        const ch = this.channels.get(id);
        if (ch && !ok.has(id)) {
          log.warn("poller node {id} was revoked: closing its channel", { id });
          this.send(ch, { type: "revoked" });
          this.close(ch);
        }
      }
      for (const site of sites) {
        const nodes = live.get(site) ?? [];
        if (this.liveBySite.get(site) !== nodes.join(",")) await this.recomputeSite(site);
      }
    } catch (err) {
      log.warn("node tick failed: {message}", { message: (err as Error).message });
    }
  }

  private async liveNodes(site: number): Promise<number[]> {
    const live = new Set(
      await pollerNodesRepo.liveOfSite(this.deps.db, site, this.opts.heartbeatTimeoutMs),
    );
    return [...live].sort((a, b) => a - b);
  }

  private async recomputeSite(site: number): Promise<void> {
    const here = [...this.channels.values()].filter((c) => c.node.site_id === site);
    if (!here.length) return;
    const live = await this.liveNodes(site);
    this.liveBySite.set(site, live.join(","));
    const monitors = await monitorsRepo.schedulable(this.deps.db, site);
    const plugins = [...(await pluginsRepo.specs(this.deps.db)).values()];
    for (const ch of here) {
      const mine = live.includes(ch.node.id)
        ? monitors.filter((m) => ownerOf(m.monitorId, live) === ch.node.id)
        : [];
      const credentials: Credential[] = [];
      if (ch.secure) {
        for (const id of new Set(mine.map((m) => m.credentialProfileId))) {
          try {
            credentials.push(await decryptCredential(this.deps.db, this.deps.keyring, id));
          } catch (err) {
            log.warn("credential profile {id} unavailable for a node: {message}", {
              id,
              message: (err as Error).message,
            });
          }
        }
      } else if (mine.length) {
        log.warn("poller node {id} is connected without TLS: no credentials sent", {
          id: ch.node.id,
        });
      }
      const assignment: NodeAssignment = {
        type: "assignment",
        monitors: mine,
        plugins,
        credentials,
        heartbeatMs: this.opts.heartbeatMs,
        liveNodes: live,
      };
      const text = JSON.stringify(assignment);
      if (text === ch.lastSent) continue;
      ch.lastSent = text;
      this.sendText(ch, text);
    }
  }

  private send(ch: Channel, msg: ChannelMessage): void {
    this.sendText(ch, JSON.stringify(msg));
  }

  private sendText(ch: Channel, json: string): void {
    try {
      ch.controller.enqueue(encoder.encode(`data: ${json}\n\n`));
    } catch {
      this.forget(ch);
    }
  }

  private close(ch: Channel): void {
    this.forget(ch);
    try {
      ch.controller.close();
    } catch { /* already closed */ }
  }

  private forget(ch: Channel): void {
    clearInterval(ch.keepalive);
    if (this.channels.get(ch.node.id) === ch) this.channels.delete(ch.node.id);
  }
}
