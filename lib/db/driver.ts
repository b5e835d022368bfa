/**
 * One small interface over the two databases NMSlite runs on: PostgreSQL through postgres.js
 * when a URL is configured, and the embedded PGlite otherwise. Repositories write plain SQL
 * with `$1` placeholders and never learn which one they talk to.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Runs several statements separated by `;` without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Bulk-loads CSV rows with COPY (postgres.js: FROM STDIN; PGlite: FROM '/dev/blob'). */
  copyCsv(table: string, columns: readonly string[], csv: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /** Runs `fn` in one transaction; it rolls back when `fn` throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export class DatabaseUnavailableError extends Error {
  override name = "DatabaseUnavailableError";
}

export async function openDatabase(
  opts: { url?: string; dataDir: string; maxConnections?: number },
): Promise<Database> {
  if (opts.url) return await openPostgres(opts.url, opts.maxConnections ?? 10);
  return await openPglite(opts.dataDir);
}

// postgres.js returns int8 as strings by default; ids and counts fit in a JS number, so parse
// them, while metric counters that may exceed 2^53 are declared numeric/text by their queries.
const INT8_OID = 20;

async function openPostgres(url: string, max: number): Promise<Database> {
  const sql = postgres(url, {
    max,
    onnotice: () => {},
    types: {
      bigint: {
        to: INT8_OID,
        from: [INT8_OID],
        serialize: (v: unknown) => String(v),
        parse: (v: string) => Number(v),
      },
    },
    connection: { application_name: "nmslite" },
  });
  try {
    await sql`select 1`;
  } catch (err) {
    await sql.end({ timeout: 1 });
    throw new DatabaseUnavailableError(
      `cannot connect to PostgreSQL: ${describePgError(err)}`,
    );
  }
  const wrap = (q: postgres.Sql | postgres.TransactionSql): Queryable => ({
    async query<T>(text: string, params: readonly unknown[] = []) {
      return await q.unsafe(text, params as postgres.ParameterOrJSON<never>[]) as unknown as T[];
    },
    async exec(text: string) {
      await q.unsafe(text).simple();
    },
    async copyCsv(table: string, columns: readonly string[], csv: string) {
      const stream = await q.unsafe(`COPY ${table} (${columns.join(", ")}) FROM STDIN (FORMAT csv)`)
        .writable();
      await new Promise<void>((resolve, reject) => {
        stream.on("error", reject);
        stream.on("finish", () => resolve());
        stream.end(csv);
      });
    },
  });
  const base = wrap(sql);
  return {
    kind: "postgres",
    query: base.query,
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) =>
      await sql.begin((tx) => fn(wrap(tx))) as T,
    exec: base.exec,
    copyCsv: base.copyCsv,
    close: async () => {
      await sql.end({ timeout: 5 });
    },
  };
}

/** int8 as a JS number, as for postgres.js; pass these to any PGlite given to pgliteDatabase. */
export const PGLITE_PARSERS = { [INT8_OID]: (v: string) => Number(v) };

async function openPglite(dataDir: string): Promise<Database> {
  const dir = dataDir === "memory://" ? dataDir : `${dataDir}/pglite`;
  if (dir !== "memory://") await Deno.mkdir(dir, { recursive: true });
  const db = await PGlite.create(dir, { parsers: PGLITE_PARSERS });
  return pgliteDatabase(db);
}

/**
 * The Database over an open PGlite; it owns it from here (close() closes it). Exported so a
 * test can bring a PGlite build with extensions (TimescaleDB) the bundled one lacks.
 */
export function pgliteDatabase(db: PGlite): Database {
  // PGlite is one connection: serialize access so a transaction never interleaves with
  // another caller's statements.
  let tail: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
  type PgliteTx = Pick<PGlite, "query" | "exec">;
  const wrap = (q: PgliteTx): Queryable => ({
    async query<T>(text: string, params: readonly unknown[] = []) {
      return (await q.query<T>(text, params as unknown[])).rows;
    },
    async exec(text: string) {
      await q.exec(text);
    },
    async copyCsv(table: string, columns: readonly string[], csv: string) {
      await q.query(`COPY ${table} (${columns.join(", ")}) FROM '/dev/blob' (FORMAT csv)`, [], {
        blob: new Blob([csv]),
      });
    },
  });
  const direct = wrap(db);
  return {
    kind: "pglite",
    query: (text, params) => exclusive(() => direct.query(text, params)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      exclusive(() => db.transaction(async (tx) => await fn(wrap(tx)))),
    exec: (text) => exclusive(() => direct.exec(text)),
    copyCsv: (table, columns, csv) => exclusive(() => direct.copyCsv(table, columns, csv)),
    close: () => exclusive(() => db.close()),
  };
}

/** A PostgreSQL error without the connection string or anything else secret. */
export function describePgError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  if (e?.code === "ECONNREFUSED") return "connection refused";
  if (e?.code === "28P01" || e?.code === "28000") return "authentication failed";
  if (e?.code === "3D000") return "database does not exist";
  return e?.message?.replace(/postgres(ql)?:\/\/\S+/g, "<url>") ?? "unknown error";
}
