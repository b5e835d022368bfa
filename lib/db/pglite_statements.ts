/**
 * Named prepared statements for PGlite, as postgres.js keeps them on each PostgreSQL
 * connection.
 *
 * PGlite's own `query()` re-parses and re-plans its text on every call, and does it in six
 * calls into the WebAssembly module: Parse, Describe statement, Bind, Describe portal,
 * Execute and Sync, each its own round of message encoding and decoding. The same text here is
 * parsed and described once, under a name; after that a call is one buffer (Bind, Execute,
 * Sync) and one call into the module, and PostgreSQL reuses the plan once it has settled on a
 * generic one (plan_cache_mode auto, as on a PostgreSQL server).
 *
 * The cache holds the `max` texts used last; an evicted statement is closed with the next call.
 * A statement the server no longer has, or whose result type changed under it (a table
 * altered: "cached plan must not change result type"), is prepared again, once.
 *
 * Callers serialize access (driver.ts's `exclusive`): a call must not run inside another
 * caller's transaction.
 */
import type { PGlite } from "@electric-sql/pglite";
import { concatBytes } from "../bytes.ts";

interface Statement {
  name: string;
  paramTypes: number[];
  /** the result's columns; empty for a statement that returns no rows */
  fields: { name: string; type: number }[];
}

/** SQLSTATEs after which a statement is prepared again */
const STALE = new Set(["26000", "0A000"]);

export class PgliteStatements {
  readonly #db: PGlite;
  readonly #max: number;
  readonly #cache = new Map<string, Statement>();
  #closing: string[] = [];
  #next = 0;

  constructor(db: PGlite, max = 200) {
    this.#db = db;
    this.#max = max;
  }

  /** statements held now (tests) */
  get size(): number {
    return this.#cache.size;
  }

  async query<T>(text: string, params: readonly unknown[]): Promise<T[]> {
    // PGlite's own words, which the driver knows as "the database is unavailable"
    if (this.#db.closed) throw new Error("PGlite is closed");
    const cached = this.#cache.get(text);
    if (cached) {
      try {
        return await this.#run<T>(cached, params);
      } catch (err) {
        if (!STALE.has((err as { code?: string }).code ?? "")) throw err;
        this.#forget(text);
      }
    }
    return await this.#run<T>(await this.#prepare(text), params);
  }

  async #prepare(text: string): Promise<Statement> {
    const name = `nmslite_${this.#next++}`;
    const { messages } = await this.#db.execProtocol(
      this.#withClosing([parse(name, text), describeStatement(name), sync()]),
    );
    let paramTypes: number[] = [];
    let fields: Statement["fields"] = [];
    for (const m of messages) {
      if (m.name === "parameterDescription") {
        paramTypes = (m as unknown as { dataTypeIDs: number[] }).dataTypeIDs;
      } else if (m.name === "rowDescription") {
        fields = (m as unknown as { fields: { name: string; dataTypeID: number }[] }).fields
          .map((f) => ({ name: f.name, type: f.dataTypeID }));
      }
    }
    const statement = { name, paramTypes, fields };
    this.#cache.set(text, statement);
    if (this.#cache.size > this.#max) this.#forget(this.#cache.keys().next().value!);
    return statement;
  }

  /** the messages, after a Close of each statement evicted since the last call */
  #withClosing(parts: Uint8Array[]): Uint8Array {
    if (!this.#closing.length) return concatBytes(...parts);
    const closes = this.#closing.map(close);
    this.#closing = [];
    return concatBytes(...closes, ...parts);
  }

  #forget(text: string): void {
    const statement = this.#cache.get(text);
    if (!statement) return;
    this.#cache.delete(text);
    this.#closing.push(statement.name);
  }

  async #run<T>(statement: Statement, params: readonly unknown[]): Promise<T[]> {
    const serializers = this.#db.serializers;
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serialize = serializers[statement.paramTypes[i]];
      return serialize ? serialize(v) : String(v);
    });
    const { messages } = await this.#db.execProtocol(
      this.#withClosing([bind(statement.name, values), execute(), sync()]),
    );
    const rows: T[] = [];
    const { fields } = statement;
    if (!fields.length) return rows;
    const parsers = fields.map((f) => this.#db.parsers[f.type]);
    for (const m of messages) {
      if (m.name !== "dataRow") continue;
      const cells = (m as unknown as { fields: (string | null)[] }).fields;
      const row: Record<string, unknown> = {};
      for (let i = 0; i < fields.length; i++) {
        const cell = cells[i];
        const parser = parsers[i];
        row[fields[i].name] = cell === null ? null : parser ? parser(cell, fields[i].type) : cell;
      }
      rows.push(row as T);
    }
    return rows;
  }
}

// ---- frontend messages (PostgreSQL protocol 3.0, text formats) ----------------------------

const utf8 = new TextEncoder();

/** A message: its type byte, its length, then the body. */
function message(type: string, body: (number | Uint8Array)[]): Uint8Array {
  let length = 4;
  for (const b of body) length += typeof b === "number" ? 4 : b.length;
  const out = new Uint8Array(1 + length);
  const view = new DataView(out.buffer);
  out[0] = type.charCodeAt(0);
  view.setInt32(1, length);
  let at = 5;
  for (const b of body) {
    if (typeof b === "number") {
      view.setInt32(at, b);
      at += 4;
    } else {
      out.set(b, at);
      at += b.length;
    }
  }
  return out;
}

const cstring = (s: string) => utf8.encode(s + "\0");
const int16 = (n: number) => new Uint8Array([(n >> 8) & 0xff, n & 0xff]);

function parse(name: string, text: string): Uint8Array {
  if (text.includes("\0")) throw new RangeError("a statement's text cannot contain NUL");
  // no parameter types given: the server infers them (the Describe tells which)
  return message("P", [cstring(name), cstring(text), int16(0)]);
}

function describeStatement(name: string): Uint8Array {
  return message("D", [utf8.encode("S"), cstring(name)]);
}

function bind(name: string, values: (string | null)[]): Uint8Array {
  const body: (number | Uint8Array)[] = [
    cstring(""),
    cstring(name),
    int16(0),
    int16(values.length),
  ];
  for (const v of values) {
    if (v === null) body.push(-1);
    else {
      const bytes = utf8.encode(v);
      body.push(bytes.length, bytes);
    }
  }
  body.push(int16(0)); // every result column as text
  return message("B", body);
}

function execute(): Uint8Array {
  return message("E", [cstring(""), 0]);
}

function close(name: string): Uint8Array {
  return message("C", [utf8.encode("S"), cstring(name)]);
}

function sync(): Uint8Array {
  return message("S", []);
}
