/**
 * Paginated, filtered, sorted lists. Sort columns come from a per-resource allow-list, never
 * from the request text, so ORDER BY stays injection-free.
 */
import type { Queryable } from "./driver.ts";

export interface ListParams {
  limit: number;
  offset: number;
  sort?: string;
  order?: "asc" | "desc";
}

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ListSpec {
  from: string;
  select?: string;
  /** SQL conditions with `$n` placeholders numbered from 1, joined with AND. */
  where?: string[];
  params?: unknown[];
  /** sort key accepted from the request -> SQL expression */
  sortable: Record<string, string>;
  defaultSort: string;
}

export async function listPage<T>(
  db: Queryable,
  spec: ListSpec,
  list: ListParams,
): Promise<Page<T>> {
  const params = [...(spec.params ?? [])];
  const where = spec.where?.length ? `WHERE ${spec.where.join(" AND ")}` : "";
  const sortExpr = spec.sortable[list.sort ?? spec.defaultSort] ?? spec.sortable[spec.defaultSort];
  const order = list.order === "desc" ? "DESC" : "ASC";
  const rows = await db.query<T & { __total: number }>(
    `SELECT ${spec.select ?? "*"}, count(*) OVER () AS __total FROM ${spec.from} ${where}
     ORDER BY ${sortExpr} ${order}, id ${order}
     LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
    [...params, list.limit, list.offset],
  );
  let total = rows[0]?.__total ?? 0;
  if (rows.length === 0 && list.offset > 0) {
    total = (await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${spec.from} ${where}`,
      params,
    ))[0].n;
  }
  const items = rows.map(({ __total: _, ...rest }) => rest as T);
  return { items, total: Number(total), limit: list.limit, offset: list.offset };
}
