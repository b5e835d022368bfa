import { assertEquals, assertThrows } from "../helpers/assert.ts";
import { IngestBodyError, validateIngestBody } from "../../lib/nodes/ingest_body.ts";

const sample = () => ({
  monitorId: 7,
  ts: 1_700_000_000_000,
  cpuPercent: 12.5,
  memoryTotal: 8e9,
  memoryUsed: 4e9,
  diskTotal: null,
  diskUsed: null,
  netSentBps: 1,
  netRecvBps: 2,
  netPacketsSent: 3,
  netPacketsRecv: 4,
  netErrors: 0,
  netDiscards: 0,
  netUtilization: null,
  processCount: 90,
  collectionMs: 40,
  volumes: [{ name: "C:", total: 100, used: 50 }],
  interfaces: [{ name: "eth0" }],
});
const outcome = () => ({
  monitorId: 7,
  deviceId: 3,
  ok: false,
  attempts: 2,
  attemptedAt: 1_700_000_000_000,
  dueAt: 1_700_000_000_000,
  durationMs: 12.5,
  error: "timeout",
});
const body = () => ({
  batches: [{ v: 1 as number, batchId: "b-1", samples: [sample()], outcomes: [outcome()] }],
});

const heartbeat = () => ({
  version: "1.2.3",
  stats: { polls_per_s: 5.5, buffered: 0, dropped: 0, dead_letters: 0, monitors: 12 },
});

Deno.test("ingest body: a well-formed body passes as it came", () => {
  const b = body();
  const checked = validateIngestBody(b);
  assertEquals(checked.batches as unknown, b.batches);
  assertEquals(checked.heartbeat, undefined);
  const withBeat = { ...body(), heartbeat: heartbeat() };
  assertEquals(validateIngestBody(withBeat).heartbeat, heartbeat());
});

Deno.test("ingest body: each malformed part is named", () => {
  const cases: [string, (b: ReturnType<typeof body>) => unknown][] = [
    ["", () => []],
    ["extra", (b) => ({ ...b, extra: 1 })],
    ["batches", () => ({ batches: [] })],
    ["batches.0.v", (b) => ({ batches: [{ ...b.batches[0], v: 2 }] })],
    ["batches.0.batchId", (b) => ({ batches: [{ ...b.batches[0], batchId: "" }] })],
    ["batches.0.samples.0.monitorId", (b) => {
      (b.batches[0].samples[0] as Record<string, unknown>).monitorId = -1;
      return b;
    }],
    ["batches.0.samples.0.cpuPercent", (b) => {
      (b.batches[0].samples[0] as Record<string, unknown>).cpuPercent = "12";
      return b;
    }],
    ["batches.0.samples.0.diskUsed", (b) => {
      delete (b.batches[0].samples[0] as Record<string, unknown>).diskUsed;
      return b;
    }],
    ["batches.0.samples.0.volumes.0", (b) => {
      (b.batches[0].samples[0] as Record<string, unknown>).volumes = [{ name: "C:" }];
      return b;
    }],
    ["batches.0.outcomes.0.ok", (b) => {
      (b.batches[0].outcomes[0] as Record<string, unknown>).ok = "yes";
      return b;
    }],
    ["batches.0.outcomes.0.attempts", (b) => {
      (b.batches[0].outcomes[0] as Record<string, unknown>).attempts = 1.5;
      return b;
    }],
    ["heartbeat", (b) => ({ ...b, heartbeat: "up" })],
    ["heartbeat.extra", (b) => ({ ...b, heartbeat: { ...heartbeat(), extra: 1 } })],
    [
      "heartbeat.version",
      (b) => ({ ...b, heartbeat: { ...heartbeat(), version: "v".repeat(65) } }),
    ],
    // PostgreSQL cannot store a NUL (a 500 before); nor does a version need control characters
    ["heartbeat.version", (b) => ({ ...b, heartbeat: { ...heartbeat(), version: "v\u0000" } })],
    ["heartbeat.version", (b) => ({ ...b, heartbeat: { ...heartbeat(), version: "\udc00" } })],
    ["heartbeat.stats.buffered", (b) => {
      const h = heartbeat();
      return { ...b, heartbeat: { ...h, stats: { ...h.stats, buffered: -1 } } };
    }],
    ["heartbeat.stats.polls_per_s", (b) => {
      const h = heartbeat();
      return { ...b, heartbeat: { ...h, stats: { ...h.stats, polls_per_s: "many" } } };
    }],
    ["heartbeat.stats.secret", (b) => {
      const h = heartbeat();
      return { ...b, heartbeat: { ...h, stats: { ...h.stats, secret: 1 } } };
    }],
    ["batches.0.outcomes.0.error", (b) => {
      (b.batches[0].outcomes[0] as Record<string, unknown>).error = 5;
      return b;
    }],
  ];
  for (const [field, make] of cases) {
    const err = assertThrows(() => validateIngestBody(make(body())), IngestBodyError);
    assertEquals((err as IngestBodyError).field, field);
  }
  const many = { batches: Array.from({ length: 1_001 }, () => body().batches[0]) };
  assertEquals(
    (assertThrows(() => validateIngestBody(many), IngestBodyError) as IngestBodyError).field,
    "batches",
  );
});
