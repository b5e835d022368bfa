/**
 * Paginated, filtered, sorted lists. Sort columns come from a per-resource allow-list, never
 * from the request text, so ORDER BY stays injection-free.
 */
import type { Database, Queryable } from "./driver.ts";

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
  /**
   * The select list holds per-row subqueries (`from` is one table, named as in the sort
   * expressions): the page is cut from the table first and the select list computed for its
   * rows alone. Otherwise PostgreSQL computes it for every row the OFFSET skips as well (a page
   * at offset 450 ran its subquery 500 times).
   */
  pageFirst?: boolean;
  /**
   * The select list's values are what the response carries as they come out of `json_agg`
   * (numbers, text, booleans, timestamps already as text): the database builds the page's JSON
   * and, on one connection, counts in the same statement when the total is needed. Decoding one
   * text value instead of every column of every row, and one statement instead of two, is most
   * of a page's cost on the embedded database (50 devices: ~6.5 → ~3.4 ms of PGlite time).
   */
  json?: boolean;
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
  const orderBy = `ORDER BY ${sortExpr} ${order}, id ${order}`;
  const cut = `${where} ${orderBy} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`;
  const itemsSql = spec.pageFirst
    ? `SELECT ${spec.select ?? "*"} FROM (SELECT * FROM ${spec.from} ${cut}) AS ${spec.from}
         ${orderBy}`
    : `SELECT ${spec.select ?? "*"} FROM ${spec.from} ${cut}`;
  const countSql = `SELECT count(*)::int AS n FROM ${spec.from} ${where}`;
  const count = () => db.query<{ n: number }>(countSql, params);
  const pageParams = [...params, list.limit, list.offset];
  // The page is read on its own so ORDER BY … LIMIT can walk an index; a window count over
  // the whole filtered set cost more than the page itself. Past the first page the count runs
  // beside the page (on another pooled connection): one round trip of latency, not two. On one
  // connection (PGlite, a transaction) a JSON page counts inside its own statement instead.
  const pooled = (db as Partial<Database>).kind === "postgres";
  const inlineCount = spec.json && !pooled;
  // past the first page the count is needed whatever the page holds; on the first page only
  // when the page is full (a page that holds the whole set counts itself)
  const counting = list.offset > 0 && !inlineCount ? count() : undefined;
  counting?.catch(() => {}); // awaited below; a failed page must not leave it unhandled
  let items: T[];
  let counted: number | null = null;
  if (spec.json) {
    // `json_agg` over the ordered page keeps its order (an aggregate over a sorted subquery
    // with nothing else at its level: PostgreSQL's documented way); the inline count is an
    // init plan, evaluated only when the CASE needs it
    const [limit, offset] = [`$${params.length + 1}`, `$${params.length + 2}`];
    const [row] = await db.query<{ items: string; n: number | null }>(
      `SELECT coalesce(json_agg(page), '[]')::text AS items,
         CASE WHEN ${offset} = 0 AND count(*) < ${limit} THEN count(*)::int
           ELSE ${inlineCount ? `(${countSql})` : "NULL"} END AS n
       FROM (${itemsSql}) AS page`,
      pageParams,
    );
    items = JSON.parse(row.items);
    counted = row.n;
  } else {
    items = await db.query<T>(itemsSql, pageParams);
  }
  const total = counted ??
    (list.offset === 0 && items.length < list.limit
      ? items.length // the whole set fits on this first page
      : (await (counting ?? count()))[0].n);
  return { items, total: Number(total), limit: list.limit, offset: list.offset };
}

/**
 * A timestamptz column as the text JSON gives a Date ("2026-11-30T01:55:00.123Z", UTC, to the
 * millisecond, truncated as Date truncates), named `as` (default: the column). For rows that go
 * straight to a response: a Date costs ~0.7 µs to parse from the wire and ~0.5 µs in
 * JSON.stringify, and takes the serializer off its fast path (50 devices of 4 timestamps: a
 * page's stringify 150 µs with Dates, 15 µs without).
 */
export function isoTimestamp(column: string, as = column): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${as}`;
}

/**
 * `q` as a LIKE/ILIKE pattern for text that contains it: `%`, `_` and `\` in `q` match
 * themselves (backslash is PostgreSQL's default LIKE escape).
 */
export function containsPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
