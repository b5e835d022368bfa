import type { Queryable } from "./driver.ts";
import type { PluginSpec } from "../messages.ts";
import { listPage, type ListParams, type Page } from "./pagination.ts";

export type PluginType = "builtin" | "exec";

export interface Plugin {
  id: number;
  name: string;
  type: PluginType;
  description: string;
  config: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

type R = Plugin;
const COLUMNS = "id, name, type, description, config, created_at, updated_at";

export const pluginsRepo = {
  /** Every plugin as the pollers run it, by id. */
  async specs(db: Queryable): Promise<Map<number, PluginSpec>> {
    const rows = await db.query<PluginSpec>("SELECT id, name, type, config FROM plugins");
    return new Map(rows.map((p) => [p.id, p]));
  },
  async list(db: Queryable, list: ListParams): Promise<Page<Plugin>> {
    return await listPage<R>(db, {
      from: "plugins",
      select: COLUMNS,
      sortable: { id: "id", name: "lower(name)", type: "type", created_at: "created_at" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<Plugin | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM plugins WHERE id = $1`, [id]))[0];
  },
  async create(
    db: Queryable,
    p: { name: string; description: string; config: Record<string, unknown> },
  ): Promise<Plugin> {
    return (await db.query<R>(
      `INSERT INTO plugins (name, type, description, config) VALUES ($1, 'exec', $2, $3)
       RETURNING ${COLUMNS}`,
      [p.name, p.description, p.config],
    ))[0];
  },
  async update(
    db: Queryable,
    id: number,
    p: { name: string; description: string; config: Record<string, unknown> },
  ): Promise<Plugin | undefined> {
    return (await db.query<R>(
      `UPDATE plugins SET name = $2, description = $3, config = $4, updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, p.name, p.description, p.config],
    ))[0];
  },
  async monitorCount(db: Queryable, id: number): Promise<number> {
    return (await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM monitors WHERE plugin_id = $1",
      [id],
    ))[0].n;
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM plugins WHERE id = $1 RETURNING id", [id])).length > 0;
  },
};
