/**
 * One small interface over the two databases NMSlite runs on: PostgreSQL through postgres.js
 * when a URL is configured, and the embedded PGlite otherwise. Repositories write plain SQL
 * with `$1` placeholders and never learn which one they talk to.
 */
import postgres from "postgres";
import { PGlite } from "@electric-sql/pglite";
import { getLogger } from "@logtape/logtape";
import { PgliteStatements } from "./pglite_statements.ts";
import { SizeCachingNodeFS } from "./pglite_fs.ts";
import { ANALYZE_EVERY_MS, analyzeStale } from "./pglite_upkeep.ts";

export type Row = Record<string, unknown>;

export interface QueryOptions {
  /**
   * false: plan it afresh at every run (PostgreSQL; an unnamed statement) instead of a
   * prepared statement whose plan PostgreSQL may fix after a few runs. For reads whose best
   * plan changes with the size of the tables: without ANALYZE (autovacuum off) nothing tells a
   * cached plan that a table grew, so one made while the tables were small stays.
   */
  prepare?: boolean;
}

export interface Queryable {
  query<T = Row>(sql: string, params?: readonly unknown[], opts?: QueryOptions): Promise<T[]>;
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

/**
 * A write that would duplicate something unique, raised by a repository that knows what the
 * duplicate is (the API answers 409 with `details`).
 */
export class UniqueViolationError extends Error {
  override name = "UniqueViolationError";
  constructor(message: string, readonly details: Record<string, unknown> = {}) {
    super(message);
  }
}

// postgres.js's own codes and the socket errors it passes on, for a server it cannot reach.
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
]);
// SQLSTATEs of a server that is shutting down, starting, full or refusing this database.
const UNAVAILABLE_SQLSTATES = new Set(["57P01", "57P02", "57P03", "53300", "3D000"]);

/**
 * Whether `err` says the database cannot be reached or is not taking work (connection refused or
 * lost, server shutting down, too many connections, embedded database closed) rather than that
 * a statement was wrong. The API answers these 503, never 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailableError) return true;
  const e = err as { code?: unknown; message?: unknown; name?: unknown } | null;
  if (!e || typeof e !== "object") return false;
  const code = typeof e.code === "string" ? e.code : "";
  if (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code)) return true;
  if (code.startsWith("08")) return true; // connection_exception class
  const message = typeof e.message === "string" ? e.message : "";
  if (code === "55000" && /not currently accepting connections/.test(message)) return true;
  // PGlite after close(), or a Deno socket error postgres.js did not wrap.
  if (/PGlite is closed|connection (refused|reset)|broken pipe/i.test(message)) return true;
  return e.name === "ConnectionRefused" || e.name === "ConnectionReset";
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
    async query<T>(text: string, params: readonly unknown[] = [], opts?: QueryOptions) {
      // Prepared (a named statement per connection, keyed by text and parameter types): the
      // first run parses and describes it, later ones send Bind/Execute only, one round trip
      // instead of two and no parse or plan on the server (unsafe() defaults to unnamed ones).
      // The texts are our own, from a bounded set of shapes (values travel as parameters); a
      // statement whose table changed under it is prepared again by postgres.js.
      return await q.unsafe(text, params as postgres.ParameterOrJSON<never>[], {
        prepare: opts?.prepare ?? true,
      }) as unknown as T[];
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
  const guard = strandedQueryGuard(url);
  return {
    kind: "postgres",
    query: (text, params, opts) => guard(base.query(text, params, opts)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) =>
      guard(sql.begin((tx) => fn(wrap(tx))) as Promise<T>),
    exec: (text) => guard(base.exec(text)),
    copyCsv: (table, columns, csv) => guard(base.copyCsv(table, columns, csv)),
    close: async () => {
      await sql.end({ timeout: 5 });
    },
  };
}

/** How long a statement may go unanswered before the server's reachability is checked. */
export const STRANDED_CHECK_MS = 5_000;

/**
 * postgres.js 3.4 can leave a query pending forever when the server ends its connections and
 * refuses new ones (an outage: the query is handed to a reconnect that fails, and is neither
 * run nor rejected). A request would then hang instead of answering 503. So a statement still
 * pending after STRANDED_CHECK_MS triggers a check of the server on a separate connection: when
 * the server is unreachable the statement fails with DatabaseUnavailableError; when it answers,
 * the statement is merely slow and is left alone (checked again later).
 */
function strandedQueryGuard(url: string) {
  let probe: Promise<boolean> | undefined;
  const reachable = (): Promise<boolean> => {
    probe ??= (async () => {
      const client = postgres(url, {
        max: 1,
        connect_timeout: 3,
        onnotice: () => {},
        fetch_types: false,
        connection: { application_name: "nmslite-probe" },
      });
      try {
        await client`select 1`;
        return true;
      } catch {
        return false;
      } finally {
        client.end({ timeout: 1 }).catch(() => {});
        setTimeout(() => probe = undefined, 1_000);
      }
    })();
    return probe;
  };
  return <T>(pending: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      let settled = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = async () => {
        if (settled) return;
        if (!await reachable()) {
          if (settled) return;
          settled = true;
          reject(new DatabaseUnavailableError("PostgreSQL did not answer and is not reachable"));
        } else if (!settled) timer = setTimeout(check, STRANDED_CHECK_MS);
      };
      timer = setTimeout(check, STRANDED_CHECK_MS);
      pending.then((v) => {
        settled = true;
        clearTimeout(timer);
        resolve(v);
      }, (e) => {
        settled = true;
        clearTimeout(timer);
        reject(e);
      });
    });
}

/** int8 as a JS number, as for postgres.js; pass these to any PGlite given to pgliteDatabase. */
export const PGLITE_PARSERS = { [INT8_OID]: (v: string) => Number(v) };

async function openPglite(dataDir: string): Promise<Database> {
  const onDisk = dataDir !== "memory://";
  if (onDisk) await Deno.mkdir(`${dataDir}/pglite`, { recursive: true });
  const lock = onDisk ? await lockDataDir(dataDir) : undefined;
  try {
    const db = await PGlite.create({
      // on disk, file sizes are remembered rather than asked of the host at each query
      ...(onDisk ? { fs: new SizeCachingNodeFS(`${dataDir}/pglite`) } : { dataDir }),
      parsers: PGLITE_PARSERS,
    });
    return withUpkeep(pgliteDatabase(db), () => lock?.close());
  } catch (err) {
    lock?.close();
    throw err;
  }
}

/**
 * PGlite is PostgreSQL without its postmaster: nothing stops a second process from opening the
 * same files, and two writers corrupt them (each trusts its own buffers and file sizes). An
 * exclusive lock on `pglite.lock` beside them is held while the database is open; the system
 * drops it when the process ends, however it ends. A second NMSlite on the same data directory
 * (or `deno task migrate` while the server runs) is refused, naming the holder.
 */
async function lockDataDir(dataDir: string): Promise<Deno.FsFile> {
  const path = `${dataDir}/pglite.lock`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  if (!(await file.tryLock(true))) {
    const holder = (await Deno.readTextFile(path).catch(() => "")).trim();
    file.close();
    throw new DatabaseUnavailableError(
      `the embedded database in ${dataDir} is in use by another process` +
        (/^\d+$/.test(holder) ? ` (pid ${holder})` : "") +
        "; stop it first, or give this one its own --data-dir",
    );
  }
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${Deno.pid}\n`));
  return file;
}

/**
 * PGlite has no autovacuum: its stale tables are analyzed every minute (pglite_upkeep.ts).
 * `closed` runs once the database is closed (the data directory's lock goes).
 */
function withUpkeep(db: Database, closed: () => void): Database {
  const log = getLogger(["nmslite", "db"]);
  let running = false;
  const timer = setInterval(async () => {
    if (running) return;
    running = true;
    try {
      const tables = await analyzeStale(db);
      if (tables.length) log.debug("analyzed {tables}", { tables });
    } catch (err) {
      log.warn("analyzing the embedded database failed: {message}", {
        message: (err as Error).message,
      });
    } finally {
      running = false;
    }
  }, ANALYZE_EVERY_MS);
  Deno.unrefTimer(timer);
  return {
    ...db,
    close: async () => {
      clearInterval(timer);
      try {
        await db.close();
      } finally {
        closed();
      }
    },
  };
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
  const statements = new PgliteStatements(db);
  return {
    kind: "pglite",
    query: (text, params = []) => exclusive(() => statements.query(text, params)),
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
