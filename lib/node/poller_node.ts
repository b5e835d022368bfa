/**
 * A poller node (`deno task poller`): enrols once with the central, then keeps a server-sent
 * events channel open to it (its assignment and commands arrive there), polls its share of
 * its site's monitors with the same Workers as the all-in-one, buffers results on disk and
 * ships them to /ingest. Everything goes outbound to the central; the node's own port serves
 * only /health and /metrics, on loopback unless configured otherwise. No database.
 */
import { getLogger } from "@logtape/logtape";
import { VERSION } from "../version.ts";
import type { WorkerUrls } from "../pipeline/pipeline.ts";
import { CentralClient, CentralRefusal } from "./central_client.ts";
import { ResultBuffer } from "./result_buffer.ts";
import { Shipper } from "./shipper.ts";
import { NodePipeline, type NodePipelineOptions } from "./node_pipeline.ts";
import {
  type ChannelMessage,
  type EnrolResponse,
  type HeartbeatRequest,
  NODE_API,
  type NodeCommand,
  type NodeReport,
} from "../nodes/protocol.ts";
import { identifyWindows } from "../collectors/windows_winrm.ts";
import { identifyWindowsWmi } from "../collectors/windows_wmi.ts";
import { WinrmError } from "../winrm/errors.ts";
import { WmiError } from "../wmi/mod.ts";
import { readNodeIdentity, writeNodeIdentity } from "./node_identity.ts";
import { openPorts } from "../discovery/probe.ts";
import { hostIdentifier } from "../collectors/identify_host.ts";
import {
  type IdentifyHost,
  type ScanReport,
  type ScanState,
  scanTarget,
  sortedByIp,
} from "../discovery/discovery.ts";

const log = getLogger(["nmslite", "node"]);
/** How long past its due time a poll waits on the node for others to share its request. */
const SHIP_AT_AGE_MS = 1_200;
/** polls_per_s in a node's report: the rate over the last minute (several polling intervals) */
const POLL_RATE_WINDOW_MS = 60_000;

export interface PollerNodeSettings {
  centralUrl: string;
  enrolmentToken?: string;
  caPem?: string;
  fingerprint?: string;
  dataDir: string;
  /** the local /health and /metrics listener */
  listen: { hostname: string; port: number };
  /** result batches kept while the central is away; past it the oldest are dropped */
  maxBufferedBatches: number;
  pipeline: Omit<NodePipelineOptions, "kvPath">;
}

export class PollerNode {
  private running = true;
  private channelAbort?: AbortController;
  private heartbeatMs = 2_000;
  /** discovery scans running here, by command id (a cancel command stops one) */
  private readonly scans = new Map<string, AbortController>();
  /**
   * The polls counted at each heartbeat tick over the last POLL_RATE_WINDOW_MS, oldest first:
   * the rate a report gives. Over one tick (2 s) it read 0 for a node whose polls come in
   * bursts (a 10 s interval) whenever the tick holding a burst was not the one reported.
   */
  private pollCounts = [{ at: performance.now(), polls: 0 }];
  private pollsPerS = 0;
  /** the figures of the last heartbeat period, sent as a heartbeat or with an ingest request */
  report?: HeartbeatRequest;
  /** heartbeat requests of their own (the rest rode on ingest requests) */
  heartbeatsSent = 0;
  connected = false;
  revoked = false;
  assignments = 0;
  liveNodes: number[] = [];
  private loops: Promise<void>[] = [];
  private server?: Deno.HttpServer;

  private constructor(
    readonly settings: PollerNodeSettings,
    readonly central: CentralClient,
    readonly identity: EnrolResponse,
    readonly buffer: ResultBuffer,
    readonly pipeline: NodePipeline,
    readonly shipper: Shipper,
  ) {}

  static async start(settings: PollerNodeSettings, workers: WorkerUrls): Promise<PollerNode> {
    await Deno.mkdir(settings.dataDir, { recursive: true });
    const central = await CentralClient.create(settings.centralUrl, {
      caPem: settings.caPem,
      fingerprint: settings.fingerprint,
    });
    const identity = await enrolOnce(central, settings);
    central.secret = identity.secret;
    const kvPath = `${settings.dataDir}/buffer.kv`;
    const buffer = await ResultBuffer.open(kvPath, settings.maxBufferedBatches);
    const pipeline = new NodePipeline(workers, { ...settings.pipeline, kvPath });
    const ref: { node?: PollerNode } = {};
    const shipper = new Shipper(
      central,
      buffer,
      // Latency budget from a poll's due time to its row on the central, p99 < 2 s: a request
      // leaves when its oldest poll is 1.2 s past due (the poll, the Workers' batching of
      // <= 0.5 s and the gathering), which leaves the rest for the request and the commit.
      {
        maxBatchesPerRequest: 200,
        maxBytesPerRequest: 800_000,
        shipAtAgeMs: SHIP_AT_AGE_MS,
        heartbeat: () => ref.node?.report,
      },
      (code) => ref.node?.onRefused(code),
    );
    const node = ref.node = new PollerNode(settings, central, identity, buffer, pipeline, shipper);
    pipeline.start();
    shipper.start();
    node.server = Deno.serve({
      hostname: settings.listen.hostname,
      port: settings.listen.port,
      onListen: () => {},
    }, (req) => node.serveLocal(req));
    node.loops.push(node.channelLoop(), node.heartbeatLoop());
    log.info("poller node {name} (id {id}, site {site}) started", {
      name: identity.name,
      id: identity.node_id,
      site: identity.site_id,
    });
    return node;
  }

  get port(): number {
    return (this.server!.addr as Deno.NetAddr).port;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.channelAbort?.abort();
    await this.pipeline.stop();
    await this.buffer.wait(300); // the last batches reach the buffer
    await this.shipper.stop();
    await Promise.allSettled(this.loops);
    await this.server?.shutdown();
    this.buffer.close();
    this.central.close();
  }

  /** The central refused our credential: poll nothing more, forget every credential. */
  private onRefused(code: string): void {
    if (this.revoked) return;
    this.revoked = true;
    log.error("the central refused this node's credential ({code}): polling stops", { code });
    this.pipeline.clear();
    this.channelAbort?.abort();
  }

  private async channelLoop(): Promise<void> {
    let backoff = 500;
    while (this.running) {
      this.channelAbort = new AbortController();
      try {
        const res = await this.central.fetch(NODE_API.channel, {
          signal: this.channelAbort.signal,
        });
        if (res.status === 401) {
          const body = await res.json().catch(() => ({}));
          this.onRefused(body?.error?.code ?? "NODE_UNKNOWN");
        } else if (!res.ok || !res.body) {
          await res.body?.cancel();
          throw new Error(`channel answered ${res.status}`);
        } else {
          this.connected = true;
          backoff = 500;
          await this.readChannel(res.body);
        }
      } catch (err) {
        if (this.running && !this.revoked) {
          log.warn("channel to the central lost: {message}", { message: (err as Error).message });
        }
      }
      this.connected = false;
      if (!this.running) return;
      await new Promise((r) => setTimeout(r, this.revoked ? 10_000 : backoff));
      backoff = Math.min(backoff * 2, 5_000);
    }
  }

  private async readChannel(body: ReadableStream<Uint8Array>): Promise<void> {
    let text = "";
    const decoder = new TextDecoder();
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = text.indexOf("\n\n")) >= 0) {
        const event = text.slice(0, end);
        text = text.slice(end + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data: "))
          .map((l) => l.slice(6)).join("\n");
        if (data) this.onMessage(JSON.parse(data) as ChannelMessage);
      }
    }
  }

  private onMessage(msg: ChannelMessage): void {
    switch (msg.type) {
      case "assignment":
        if (this.revoked) return;
        this.assignments++;
        this.heartbeatMs = msg.heartbeatMs;
        this.liveNodes = msg.liveNodes;
        this.pipeline.apply(msg);
        log.info("assignment: {monitors} monitors, {credentials} credentials", {
          monitors: msg.monitors.length,
          credentials: msg.credentials.length,
        });
        break;
      case "command":
        void this.run(msg);
        break;
      case "revoked":
        this.onRefused("NODE_REVOKED");
        break;
    }
  }

  private async run(cmd: NodeCommand): Promise<void> {
    const report: NodeReport = { id: cmd.id, ok: false };
    if (cmd.kind === "credential-test") {
      try {
        const signal = AbortSignal.timeout(20_000);
        report.result = cmd.credential.type === "wmi"
          ? await identifyWindowsWmi(cmd.ip, cmd.credential, signal)
          : await identifyWindows(cmd.ip, cmd.credential, signal, {}, cmd.hostName ?? null);
        report.ok = true;
      } catch (err) {
        report.error = err instanceof WinrmError || err instanceof WmiError
          ? { kind: err.kind, message: err.message }
          : { kind: "unexpected", message: (err as Error).message };
      }
    } else if (cmd.kind === "discover") {
      await this.discover(cmd);
      return;
    } else if (cmd.kind === "cancel") {
      const scan = this.scans.get(cmd.commandId);
      scan?.abort(new ScanCancelledError("the discovery run was cancelled"));
      report.ok = true;
      report.result = { cancelled: scan !== undefined };
    } else if (cmd.kind === "probe") {
      try {
        report.result = await openPorts(cmd.ip, cmd.ports, cmd.timeoutMs);
        report.ok = true;
      } catch (err) {
        report.error = { kind: "unexpected", message: (err as Error).message };
      }
    }
    await this.central.post(NODE_API.report, report).catch((err) =>
      log.warn("cannot report command {id}: {message}", { id: cmd.id, message: err.message })
    );
  }

  /**
   * A discovery run of this node's site: the scan runs here, its progress and the hosts it
   * identified go to the central twice a second (partial reports), the end in the last one.
   */
  private async discover(cmd: NodeCommand & { kind: "discover" }): Promise<void> {
    const state: ScanState = {
      progress: { addresses_scanned: 0, hosts_found: 0, identified: 0, failed: 0, ping_replies: 0 },
      unidentified: [],
    };
    let hosts: ScanReport["hosts"] = [];
    let pingable: boolean | undefined;
    let sending = Promise.resolve();
    const send = (report: NodeReport) => {
      sending = sending.then(() =>
        this.central.post(NODE_API.report, report).then(
          () => {},
          (err) =>
            log.warn("cannot report discovery progress {id}: {message}", {
              id: cmd.id,
              message: err.message,
            }),
        )
      );
      return sending;
    };
    const snapshot = (): ScanReport => {
      const taken = hosts;
      hosts = [];
      return {
        pingable,
        progress: { ...state.progress },
        unidentified: sortedByIp(state.unidentified),
        hosts: taken,
      };
    };
    const timer = setInterval(
      () => void send({ id: cmd.id, ok: true, partial: true, result: snapshot() }),
      500,
    );
    const report: NodeReport = { id: cmd.id, ok: false };
    // stopped by a cancel command from the central, or after six hours whatever happens
    const controller = new AbortController();
    this.scans.set(cmd.id, controller);
    try {
      await scanTarget(
        cmd,
        hostIdentifier({}) as IdentifyHost,
        { ...cmd.options },
        AbortSignal.any([controller.signal, AbortSignal.timeout(6 * 3_600_000)]),
        state,
        {
          started: (p) => {
            pingable = p;
          },
          identified: (ip, identity, ports) => {
            hosts.push({ ip, ports, identity });
          },
        },
      );
      report.ok = true;
    } catch (err) {
      const e = err as { kind?: string; message?: string };
      report.error = { kind: e.kind ?? "unexpected", message: e.message ?? String(err) };
    } finally {
      clearInterval(timer);
      this.scans.delete(cmd.id);
    }
    if (controller.signal.aborted) {
      report.ok = false;
      report.error = { kind: "cancelled", message: "the discovery run was cancelled" };
    }
    if (report.ok) report.result = snapshot();
    await send(report);
  }

  /**
   * Every heartbeat period: the node's figures, posted as a heartbeat unless an ingest request
   * carried them to the central within the period (the central records those at its next
   * tick), so a node that ships results sends no heartbeat requests.
   */
  private async heartbeatLoop(): Promise<void> {
    while (this.running) {
      const now = performance.now();
      const polls = this.pipeline.polls();
      const counts = this.pollCounts;
      counts.push({ at: now, polls });
      while (counts.length > 2 && now - counts[1].at >= POLL_RATE_WINDOW_MS) counts.shift();
      this.pollsPerS = (polls - counts[0].polls) / Math.max(0.001, (now - counts[0].at) / 1000);
      this.report = {
        version: VERSION,
        stats: {
          polls_per_s: Math.round(this.pollsPerS * 100) / 100,
          buffered: this.buffer.counts.buffered,
          dropped: this.buffer.counts.dropped,
          dead_letters: this.buffer.counts.deadLetters,
          monitors: this.pipeline.monitors,
        },
      };
      if (!this.revoked && Date.now() - this.shipper.reportedAt >= this.heartbeatMs) {
        try {
          await this.central.post(NODE_API.heartbeat, this.report, AbortSignal.timeout(10_000));
          this.heartbeatsSent++;
        } catch (err) {
          if (err instanceof CentralRefusal && err.status === 401) this.onRefused(err.code);
        }
      }
      await new Promise((r) => setTimeout(r, this.heartbeatMs));
    }
  }

  health() {
    return {
      status: this.revoked ? "revoked" : this.connected ? "ok" : "central unreachable",
      version: VERSION,
      node_id: this.identity.node_id,
      site_id: this.identity.site_id,
      connected: this.connected,
      monitors: this.pipeline.monitors,
      buffered: this.buffer.counts.buffered,
      last_ship_error: this.shipper.lastError,
    };
  }

  metrics(): string {
    const c = this.buffer.counts;
    const s = this.shipper.counts;
    const conns = this.pipeline.connections();
    const lines = [
      "# TYPE nmslite_node_connected gauge",
      `nmslite_node_connected ${this.connected ? 1 : 0}`,
      "# TYPE nmslite_node_revoked gauge",
      `nmslite_node_revoked ${this.revoked ? 1 : 0}`,
      "# TYPE nmslite_node_monitors gauge",
      `nmslite_node_monitors ${this.pipeline.monitors}`,
      "# TYPE nmslite_node_polls_total counter",
      `nmslite_node_polls_total ${this.pipeline.polls()}`,
      "# TYPE nmslite_node_polls_ok_total counter",
      `nmslite_node_polls_ok_total ${this.pipeline.okPolls()}`,
      "# TYPE nmslite_node_polls_failed_total counter",
      ...Object.entries(this.pipeline.failedByClass()).map(([cls, n]) =>
        `nmslite_node_polls_failed_total{class="${cls}"} ${n}`
      ),
      "# TYPE nmslite_node_polls_skipped_total counter",
      ...Object.entries(this.pipeline.skipped()).map(([reason, n]) =>
        `nmslite_node_polls_skipped_total{reason="${reason}"} ${n}`
      ),
      "# TYPE nmslite_node_winrm_connections gauge",
      `nmslite_node_winrm_connections{state="open"} ${conns.open}`,
      `nmslite_node_winrm_connections{state="idle"} ${conns.idle}`,
      `nmslite_node_winrm_connections{state="budget"} ${
        Number.isFinite(conns.budget) ? conns.budget : -1
      }`,
      "# TYPE nmslite_node_winrm_connections_evicted_total counter",
      `nmslite_node_winrm_connections_evicted_total ${conns.evicted}`,
      "# TYPE nmslite_node_winrm_descriptors_exhausted_total counter",
      `nmslite_node_winrm_descriptors_exhausted_total ${conns.exhausted}`,
      "# TYPE nmslite_node_buffered_batches gauge",
      `nmslite_node_buffered_batches ${c.buffered}`,
      "# TYPE nmslite_node_dropped_batches_total counter",
      `nmslite_node_dropped_batches_total ${c.dropped}`,
      "# TYPE nmslite_node_dead_letter_batches gauge",
      `nmslite_node_dead_letter_batches ${c.deadLetters}`,
      "# TYPE nmslite_node_shipped_requests_total counter",
      `nmslite_node_shipped_requests_total ${s.shippedRequests}`,
      "# TYPE nmslite_node_heartbeat_requests_total counter",
      `nmslite_node_heartbeat_requests_total ${this.heartbeatsSent}`,
      "# TYPE nmslite_node_shipped_batches_total counter",
      `nmslite_node_shipped_batches_total ${s.shippedBatches}`,
      "# TYPE nmslite_node_shipped_rows_total counter",
      `nmslite_node_shipped_rows_total ${s.shippedRows}`,
      "# TYPE nmslite_node_ship_failures_total counter",
      `nmslite_node_ship_failures_total ${s.failures}`,
      "# TYPE nmslite_node_ingest_refused_total counter",
      ...Object.entries(s.refused).map(([code, n]) =>
        `nmslite_node_ingest_refused_total{code="${code}"} ${n}`
      ),
      "# TYPE nmslite_node_discoveries_running gauge",
      `nmslite_node_discoveries_running ${this.scans.size}`,
      "# TYPE nmslite_node_assignments_total counter",
      `nmslite_node_assignments_total ${this.assignments}`,
    ];
    return lines.join("\n") + "\n";
  }

  private serveLocal(req: Request): Response {
    const path = new URL(req.url).pathname;
    if (path === "/health") {
      const h = this.health();
      return Response.json(h, { status: h.status === "ok" ? 200 : 503 });
    }
    if (path === "/metrics") {
      return new Response(this.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    return new Response("not found\n", { status: 404 });
  }
}

/** The credential from the data dir, or a fresh enrolment with the token. */
async function enrolOnce(central: CentralClient, s: PollerNodeSettings): Promise<EnrolResponse> {
  const path = `${s.dataDir}/node.json`;
  const known = await readNodeIdentity(path);
  if (known) return known;
  if (!s.enrolmentToken) {
    throw new Error(
      `no node credential in ${path} and no NMSLITE_ENROLMENT_TOKEN: create the node on the ` +
        "central (Pollers page or POST /api/v1/poller-nodes) and start it with its token",
    );
  }
  const identity = await central.post<EnrolResponse>(NODE_API.enrol, {
    token: s.enrolmentToken,
    version: VERSION,
  });
  await writeNodeIdentity(path, identity);
  return identity;
}

/** A discovery scan stopped because the central cancelled its run. */
class ScanCancelledError extends Error {
  override name = "ScanCancelledError";
  readonly kind = "cancelled";
}
