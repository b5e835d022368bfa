/** Sites: where devices live and which poller nodes poll them. `local` (id 1) is built in. */
import { type Site, sitesRepo } from "../db/sites.ts";
import { LOCAL_SITE_ID } from "../db/sites.ts";
import type { ListParams, Page } from "../db/pagination.ts";
import { type Actor, audit } from "../audit.ts";
import { found, ServiceError } from "./errors.ts";
import { change, type ServiceDeps } from "./service.ts";

export interface SiteInput {
  name: string;
  description: string;
}

export class SitesService {
  constructor(private readonly deps: ServiceDeps) {}

  list(params: ListParams): Promise<Page<Site>> {
    return sitesRepo.list(this.deps.db, params);
  }

  get(id: number): Promise<Site | undefined> {
    return sitesRepo.get(this.deps.db, id);
  }

  create(actor: Actor, body: SiteInput): Promise<Site> {
    return change(this.deps, async (tx) => {
      const row = await sitesRepo.create(tx, body);
      await audit(tx, actor, "create", "site", row.id, { name: row.name });
      return row;
    });
  }

  update(actor: Actor, id: number, body: Partial<SiteInput>): Promise<Site> {
    return change(this.deps, async (tx) => {
      const existing = found(await sitesRepo.get(tx, id), "site", id);
      if (id === LOCAL_SITE_ID && body.name !== undefined && body.name !== existing.name) {
        throw new ServiceError(
          400,
          "BUILTIN_SITE",
          "the site local is built in: it keeps its name",
        );
      }
      const row = found(
        await sitesRepo.update(tx, id, {
          name: body.name ?? existing.name,
          description: body.description ?? existing.description,
        }),
        "site",
        id,
      );
      await audit(tx, actor, "update", "site", id, { fields: Object.keys(body) });
      return row;
    });
  }

  /** Only an empty site: no devices, discovery profiles or (unrevoked) nodes. */
  delete(actor: Actor, id: number): Promise<void> {
    return change(this.deps, async (tx) => {
      found(await sitesRepo.get(tx, id), "site", id);
      if (id === LOCAL_SITE_ID) {
        throw new ServiceError(
          400,
          "BUILTIN_SITE",
          "the site local is built in and cannot be deleted",
        );
      }
      const usage = await sitesRepo.usage(tx, id);
      const total = usage.devices + usage.profiles + usage.nodes;
      if (total > 0) {
        throw new ServiceError(
          400,
          "IN_USE",
          `site in use by ${usage.devices} device(s), ${usage.profiles} discovery profile(s) ` +
            `and ${usage.nodes} poller node(s)`,
          usage,
        );
      }
      await sitesRepo.delete(tx, id);
      await audit(tx, actor, "delete", "site", id);
    });
  }
}
