/**
 * What crosses the wire between the central and a poller node. The node opens everything:
 * it enrols, holds a server-sent-events channel (central -> node) and posts heartbeats,
 * command reports and result batches (node -> central). Plain JSON only.
 */
import type { DiscoverCommand } from "../discovery/discovery.ts";
import type { Credential, PluginSpec, ResultBatch, ScheduledMonitor } from "../messages.ts";

export const NODE_API = {
  enrol: "/api/v1/nodes/enrol",
  channel: "/api/v1/nodes/channel",
  heartbeat: "/api/v1/nodes/heartbeat",
  report: "/api/v1/nodes/report",
  ingest: "/api/v1/ingest",
} as const;

export interface EnrolRequest {
  token: string;
  name?: string;
  version: string;
}

export interface EnrolResponse {
  node_id: number;
  site_id: number;
  name: string;
  /** the node credential: kept in the node's data dir, sent as a bearer token */
  secret: string;
}

/** The node's whole work as the central sees it now; replaces what the node had. */
export interface NodeAssignment {
  type: "assignment";
  /** the monitors this node polls (rendezvous over its site's live nodes) */
  monitors: ScheduledMonitor[];
  plugins: PluginSpec[];
  /** decrypted, for this node's monitors only; held in memory, never written */
  credentials: Credential[];
  /** how often the central expects a heartbeat */
  heartbeatMs: number;
  /** the site's live nodes (for the node's own /metrics) */
  liveNodes: number[];
}

/** Work the central asks a node to do now; its outcome comes back as a NodeReport. */
export type NodeCommandBody =
  | {
    kind: "credential-test";
    ip: string;
    credential: Credential;
    /** the device's host name (Kerberos names the service after it), when known */
    hostName?: string | null;
  }
  | {
    /** a recovery probe of an unreachable device: which of its WinRM ports answer */
    kind: "probe";
    ip: string;
    ports: number[];
    timeoutMs: number;
  }
  /** a discovery run of the node's site: progress comes back in partial reports */
  | DiscoverCommand
  /** stop command `commandId` (a discovery run) if it still runs on the node */
  | { kind: "cancel"; commandId: string };

export type NodeCommand = NodeCommandBody & { type: "command"; id: string };

export interface NodeReport {
  id: string;
  ok: boolean;
  /** progress of a long command: more reports follow under the same id */
  partial?: boolean;
  result?: unknown;
  error?: { kind: string; message: string };
}

export type ChannelMessage = NodeAssignment | NodeCommand | { type: "revoked" };

export interface HeartbeatRequest {
  version: string;
  stats: {
    polls_per_s: number;
    buffered: number;
    dropped: number;
    dead_letters: number;
    monitors: number;
  };
}

/**
 * POST /ingest: one or more batches, committed together or not at all, and the node's
 * heartbeat (optional): a node that ships results needs no heartbeat requests of its own.
 */
export interface IngestRequest {
  batches: ResultBatch[];
  heartbeat?: HeartbeatRequest;
}

export interface IngestResponse {
  batches: number;
  rows: number;
  inserted: number;
  duplicates: number;
}
