import type { Queryable } from "./driver.ts";
import { containsPattern, listPage, type ListParams, type Page } from "./pagination.ts";

export interface DiscoveryProfile {
  id: number;
  name: string;
  credential_profile_id: number;
  target: string;
  address_count: number;
  ports: number[];
  site_id: number;
  created_at: Date;
  updated_at: Date;
}

export interface DiscoveryProfileWrite {
  name: string;
  credential_profile_id: number;
  target: string;
  address_count: number;
  ports: number[];
  site_id?: number;
}

type R = DiscoveryProfile;
const COLUMNS =
  "id, name, credential_profile_id, target, address_count, ports, site_id, created_at, updated_at";

export const discoveryProfilesRepo = {
  async list(db: Queryable, list: ListParams, q?: string): Promise<Page<DiscoveryProfile>> {
    return await listPage<R>(db, {
      from: "discovery_profiles",
      select: COLUMNS,
      where: q ? ["(name ILIKE $1 OR target ILIKE $1)"] : [],
      params: q ? [containsPattern(q)] : [],
      sortable: { id: "id", name: "lower(name)", created_at: "created_at" },
      defaultSort: "id",
    }, list);
  },
  async get(db: Queryable, id: number): Promise<DiscoveryProfile | undefined> {
    return (await db.query<R>(`SELECT ${COLUMNS} FROM discovery_profiles WHERE id = $1`, [id]))[0];
  },
  async create(db: Queryable, p: DiscoveryProfileWrite): Promise<DiscoveryProfile> {
    return (await db.query<R>(
      `INSERT INTO discovery_profiles (name, credential_profile_id, target, address_count, ports,
         site_id)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [p.name, p.credential_profile_id, p.target, p.address_count, p.ports, p.site_id ?? 1],
    ))[0];
  },
  async update(
    db: Queryable,
    id: number,
    p: DiscoveryProfileWrite,
  ): Promise<DiscoveryProfile | undefined> {
    return (await db.query<R>(
      `UPDATE discovery_profiles SET name = $2, credential_profile_id = $3, target = $4,
         address_count = $5, ports = $6, site_id = COALESCE($7, site_id), updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, p.name, p.credential_profile_id, p.target, p.address_count, p.ports, p.site_id ?? null],
    ))[0];
  },
  async delete(db: Queryable, id: number): Promise<boolean> {
    return (await db.query("DELETE FROM discovery_profiles WHERE id = $1 RETURNING id", [id]))
      .length > 0;
  },
};
