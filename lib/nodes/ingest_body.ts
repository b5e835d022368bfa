/**
 * The shape check of a POST /ingest body, written out by hand: it is the central's hottest
 * path (every row of every node passes here) and a schema library spent more time building
 * its copy of the body than the database spent committing it. Same rules as the zod schema it
 * replaced (tests/nodes/ingest_body_test.ts compares them); the body is returned as it came,
 * not copied.
 */
import { type ResultBatch, SAMPLE_NUMBER_FIELDS } from "../messages.ts";
import type { HeartbeatRequest } from "./protocol.ts";
import { z } from "zod";

export class IngestBodyError extends Error {
  override name = "IngestBodyError";
  constructor(readonly field: string, message: string) {
    super(`${field || "body"}: ${message}`);
  }
}

const MAX_BATCHES = 1_000;
const OUTCOME_STRINGS = ["error", "errorKind", "errorClass"] as const;

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;

function fail(field: string, message: string): never {
  throw new IngestBodyError(field, message);
}

/** A node's heartbeat: POST /nodes/heartbeat's body, and the `heartbeat` of an ingest body. */
export const HeartbeatBody = z.object({
  // printable and well-formed: stored as the node's version and shown on the dashboard
  version: z.string().max(64).regex(/^[\x20-\x7e]*$/, "printable ASCII only"),
  stats: z.object({
    polls_per_s: z.number().nonnegative().max(1e7),
    buffered: z.number().int().nonnegative(),
    dropped: z.number().int().nonnegative(),
    dead_letters: z.number().int().nonnegative(),
    monitors: z.number().int().nonnegative(),
  }).strict(),
}).strict();

/**
 * The batches and the heartbeat (if any) of a well-formed body; IngestBodyError naming the
 * first bad field otherwise. The heartbeat follows POST /nodes/heartbeat's rules.
 */
export function validateIngestBody(
  body: unknown,
): { batches: ResultBatch[]; heartbeat?: HeartbeatRequest } {
  if (!isObject(body)) fail("", "expected an object");
  for (const key in body) if (key !== "batches" && key !== "heartbeat") fail(key, "unknown field");
  if (body.heartbeat !== undefined) checkHeartbeat(body.heartbeat);
  const batches = body.batches;
  if (!Array.isArray(batches)) fail("batches", "expected an array");
  if (batches.length < 1) fail("batches", "at least one batch");
  if (batches.length > MAX_BATCHES) fail("batches", `at most ${MAX_BATCHES} batches`);
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i];
    const at = `batches.${i}`;
    if (!isObject(b)) fail(at, "expected an object");
    if (b.v !== 1) fail(`${at}.v`, "expected 1");
    const id = b.batchId;
    if (typeof id !== "string" || id.length < 1 || id.length > 100) {
      fail(`${at}.batchId`, "expected a string of 1 to 100 characters");
    }
    if (!Array.isArray(b.samples)) fail(`${at}.samples`, "expected an array");
    if (!Array.isArray(b.outcomes)) fail(`${at}.outcomes`, "expected an array");
    const samples = b.samples as unknown[];
    for (let j = 0; j < samples.length; j++) checkSample(samples[j], `${at}.samples.${j}`);
    const outcomes = b.outcomes as unknown[];
    for (let j = 0; j < outcomes.length; j++) checkOutcome(outcomes[j], `${at}.outcomes.${j}`);
  }
  return {
    batches: batches as ResultBatch[],
    heartbeat: body.heartbeat as HeartbeatRequest | undefined,
  };
}

function checkHeartbeat(h: unknown): void {
  const checked = HeartbeatBody.safeParse(h);
  if (checked.success) return;
  const issue = checked.error.issues[0];
  const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]] : issue.path;
  fail(["heartbeat", ...path].join("."), issue.message);
}

function checkSample(s: unknown, at: string): void {
  if (!isObject(s)) fail(at, "expected an object");
  if (!positiveInt(s.monitorId)) fail(`${at}.monitorId`, "expected a positive integer");
  if (!positiveInt(s.ts)) fail(`${at}.ts`, "expected a positive integer");
  for (const k of SAMPLE_NUMBER_FIELDS) {
    const v = s[k];
    if (v !== null && !Number.isFinite(v)) fail(`${at}.${k}`, "expected a finite number or null");
  }
  const volumes = s.volumes;
  if (volumes !== null) {
    if (!Array.isArray(volumes)) fail(`${at}.volumes`, "expected an array or null");
    for (let k = 0; k < volumes.length; k++) {
      const v = volumes[k];
      if (
        !isObject(v) || typeof v.name !== "string" || typeof v.total !== "number" ||
        typeof v.used !== "number"
      ) fail(`${at}.volumes.${k}`, "expected { name, total, used }");
    }
  }
  const interfaces = s.interfaces;
  if (interfaces !== null) {
    if (!Array.isArray(interfaces)) fail(`${at}.interfaces`, "expected an array or null");
    for (let k = 0; k < interfaces.length; k++) {
      if (!isObject(interfaces[k])) fail(`${at}.interfaces.${k}`, "expected an object");
    }
  }
}

function checkOutcome(o: unknown, at: string): void {
  if (!isObject(o)) fail(at, "expected an object");
  if (!positiveInt(o.monitorId)) fail(`${at}.monitorId`, "expected a positive integer");
  if (!positiveInt(o.deviceId)) fail(`${at}.deviceId`, "expected a positive integer");
  if (typeof o.ok !== "boolean") fail(`${at}.ok`, "expected a boolean");
  if (!Number.isSafeInteger(o.attempts) || (o.attempts as number) < 0) {
    fail(`${at}.attempts`, "expected a non-negative integer");
  }
  if (!positiveInt(o.attemptedAt)) fail(`${at}.attemptedAt`, "expected a positive integer");
  if (!positiveInt(o.dueAt)) fail(`${at}.dueAt`, "expected a positive integer");
  if (typeof o.durationMs !== "number" || !(o.durationMs >= 0) || !Number.isFinite(o.durationMs)) {
    fail(`${at}.durationMs`, "expected a non-negative number");
  }
  for (const k of OUTCOME_STRINGS) {
    if (o[k] !== undefined && typeof o[k] !== "string") fail(`${at}.${k}`, "expected a string");
  }
}
