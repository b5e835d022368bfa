import { type Queryable, UniqueViolationError } from "./driver.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

/** The built-in site polled by an all-in-one server's own Workers (migration 0008). */
export const LOCAL_SITE_ID = 1;

export interface Site {
  id: number;
  name: string;
  description: string;
  devices: number;
  nodes: number;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = `id, name, description,
  (SELECT count(*)::int FROM devices d WHERE d.site_id = sites.id) AS devices,
  (SELECT count(*)::int FROM poller_nodes n WHERE n.site_id = sites.id AND n.status <> 'revoked')
    AS nodes,
  created_at, updated_at`;

export const sitesRepo = {
  async list(db: Queryable, list: ListParams): Promise<Page<Site>> {
    return await listPage<Site>(db, {
      from: "sites",
      select: COLUMNS,
      sortable: { id: "id", name: "lower(name)", created_at: "created_at" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<Site | undefined> {
    return (await db.query<Site>(`SELECT ${COLUMNS} FROM sites WHERE id = $1`, [id]))[0];
  },
  async exists(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("SELECT 1 FROM sites WHERE id = $1", [id])).length > 0;
  },
  async create(db: Queryable, s: { name: string; description: string }): Promise<Site> {
    const [row] = await db.query<{ id: number }>(
      `INSERT INTO sites (name, description) VALUES ($1, $2)
       ON CONFLICT (lower(name)) DO NOTHING RETURNING id`,
      [s.name, s.description],
    );
    if (!row) {
      throw new UniqueViolationError(`a site named "${s.name}" exists`, { fields: ["name"] });
    }
    return (await sitesRepo.get(db, row.id))!;
  },
  async update(
    db: Queryable,
    id: number,
    s: { name: string; description: string },
  ): Promise<Site | undefined> {
    try {
      const rows = await db.query(
        `UPDATE sites SET name = $2, description = $3, updated_at = now() WHERE id = $1
         RETURNING id`,
        [id, s.name, s.description],
      );
      return rows.length ? await sitesRepo.get(db, id) : undefined;
    } catch (err) {
      if ((err as { code?: string }).code === "23505") {
        throw new UniqueViolationError(`a site named "${s.name}" exists`, { fields: ["name"] });
      }
      throw err;
    }
  },
  /** What still belongs to the site (a site in use cannot be deleted). */
  async usage(
    db: Queryable,
    id: number,
  ): Promise<{ devices: number; profiles: number; nodes: number }> {
    return (await db.query<{ devices: number; profiles: number; nodes: number }>(
      `SELECT (SELECT count(*)::int FROM devices WHERE site_id = $1) AS devices,
              (SELECT count(*)::int FROM discovery_profiles WHERE site_id = $1) AS profiles,
              (SELECT count(*)::int FROM poller_nodes WHERE site_id = $1 AND status <> 'revoked')
                AS nodes`,
      [id],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    await db.query("DELETE FROM poller_nodes WHERE site_id = $1 AND status = 'revoked'", [id]);
    return (await db.query("DELETE FROM sites WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};
