/**
 * Poller nodes: an admin creates one for a site and gets its enrolment token once; the node
 * exchanges the token for its credential (POST /nodes/enrol); revoking ends its access at its
 * next request, on every central process (the credential is looked up on each request).
 */
import { type NodeIdentity, type PollerNode, pollerNodesRepo } from "../db/poller_nodes.ts";
import { LOCAL_SITE_ID, sitesRepo } from "../db/sites.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit, SYSTEM } from "../audit.ts";
import { found, notFound, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";
import { hashNodeSecret, newEnrolmentToken, newNodeSecret } from "../nodes/node_secrets.ts";

export interface PollerNodeInput {
  site_id: number;
  name: string;
}

export interface PollerNodeCreated extends PollerNode {
  /** shown once; only its hash is stored */
  enrolment_token: string;
}

export class NodeAuthError extends Error {
  override name = "NodeAuthError";
  constructor(readonly code: "NODE_UNKNOWN" | "NODE_REVOKED", message: string) {
    super(message);
  }
}

/** How long a node credential, once checked, is trusted without asking the database again. */
const NODE_CACHE_MS = 60_000;

export class PollerNodesService {
  /** credential -> its node: a revocation (here, or relayed from another process) evicts it */
  private readonly cache = new Map<string, { node: NodeIdentity; until: number }>();

  constructor(private readonly deps: ServiceDeps & { enrolmentTtlMs: number }) {
    deps.events.subscribe((event) => {
      if (event.entity === "all") return this.cache.clear();
      if (event.entity !== "poller_node") return;
      for (const [secret, hit] of this.cache) {
        if (hit.node.id === event.id) this.cache.delete(secret);
      }
    });
  }

  list(params: ListParams & { site_id?: number }): Promise<Page<PollerNode>> {
    return pollerNodesRepo.list(this.deps.db, params, { site_id: params.site_id });
  }

  get(id: number): Promise<PollerNode | undefined> {
    return pollerNodesRepo.get(this.deps.db, id);
  }

  async create(actor: Actor, body: PollerNodeInput): Promise<PollerNodeCreated> {
    const token = newEnrolmentToken();
    const hash = await hashNodeSecret(token);
    const row = await change(this.deps, async (tx) => {
      if (!await sitesRepo.exists(tx, body.site_id)) throw notFound("site", body.site_id);
      if (body.site_id === LOCAL_SITE_ID) {
        // The server's own Workers poll `local`; a node there would poll its hosts twice.
        throw new ServiceError(
          400,
          "BUILTIN_SITE",
          "the site local is polled by the server itself",
        );
      }
      const row = await pollerNodesRepo.create(tx, {
        site_id: body.site_id,
        name: body.name,
        enrolment_token_hash: hash,
        expires_at: new Date(Date.now() + this.deps.enrolmentTtlMs),
      });
      await audit(tx, actor, "create", "poller_node", row.id, {
        name: row.name,
        site_id: row.site_id,
      });
      return row;
    });
    return { ...row, enrolment_token: token };
  }

  /** Revoked at once: its credential and any unused token stop working. */
  delete(actor: Actor, id: number): Promise<void> {
    return this.revoke(actor, id).then(() => {});
  }

  revoke(actor: Actor, id: number): Promise<PollerNode> {
    return change(this.deps, async (tx) => {
      const node = found(await pollerNodesRepo.get(tx, id), "poller node", id);
      if (node.status === "revoked") {
        throw new ServiceError(409, "CONFLICT", `poller node ${id} is already revoked`);
      }
      await pollerNodesRepo.revoke(tx, id);
      await audit(tx, actor, "revoke", "poller_node", id, { name: node.name });
      return (await pollerNodesRepo.get(tx, id))!;
    }, () => ({ entity: "poller_node", id, action: "updated" }));
  }

  /** Exchanges an enrolment token for the node credential (once). */
  async enrol(token: string, version: string): Promise<{ node: NodeIdentity; secret: string }> {
    const secret = newNodeSecret();
    const node = await pollerNodesRepo.enrol(
      this.deps.db,
      await hashNodeSecret(token),
      await hashNodeSecret(secret),
      version.slice(0, 64),
    );
    if (!node) {
      throw new ServiceError(
        401,
        "ENROLMENT_INVALID",
        "the enrolment token is unknown, already used, expired or revoked",
      );
    }
    await audit(this.deps.db, SYSTEM, "enrol", "poller_node", node.id, { name: node.name });
    return { node, secret };
  }

  /** The node a presented credential belongs to; refuses unknown and revoked ones. */
  async authenticate(secret: string): Promise<NodeIdentity> {
    const hit = this.cache.get(secret);
    if (hit && hit.until > Date.now()) return hit.node;
    const node = await pollerNodesRepo.byCredential(this.deps.db, await hashNodeSecret(secret));
    if (!node) throw new NodeAuthError("NODE_UNKNOWN", "unknown or revoked node credential");
    if (node.status !== "enrolled") {
      throw new NodeAuthError("NODE_REVOKED", `poller node ${node.id} is revoked`);
    }
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(secret, { node, until: Date.now() + NODE_CACHE_MS });
    return node;
  }
}
