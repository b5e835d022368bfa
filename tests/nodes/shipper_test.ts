/**
 * The node's shipper spends the poll-to-row budget on gathering: a request that would not be
 * full waits until its oldest poll is `shipAtAgeMs` past due, so later batches share it; an
 * overdue poll and a full request go at once. Real buffer (Deno KV in a temp dir), real
 * client, and a loopback server standing in for the central's /ingest that records requests.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import { CentralClient } from "../../lib/node/central_client.ts";
import { ResultBuffer } from "../../lib/node/result_buffer.ts";
import { oldestDueAt, Shipper } from "../../lib/node/shipper.ts";
import type { ResultBatch } from "../../lib/messages.ts";
import type { HeartbeatRequest } from "../../lib/nodes/protocol.ts";
import { eventually } from "../helpers/distributed.ts";

function batch(monitorId: number, dueAt: number): ResultBatch {
  return {
    v: 1,
    batchId: crypto.randomUUID(),
    samples: [],
    outcomes: [{
      monitorId,
      deviceId: monitorId,
      ok: false,
      attempts: 1,
      attemptedAt: dueAt,
      dueAt,
      durationMs: 5,
      error: "timeout",
    }],
  };
}

async function harness(
  opts: {
    shipAtAgeMs: number;
    maxBatchesPerRequest?: number;
    buffered?: ResultBatch[];
    heartbeat?: () => HeartbeatRequest | undefined;
    /** answer compressed bodies as a central older than compression does */
    refuseGzip?: boolean;
  },
) {
  const requests: number[][] = [];
  const heartbeats: (HeartbeatRequest | undefined)[] = [];
  const encodings: (string | null)[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const encoding = req.headers.get("content-encoding");
    encodings.push(encoding);
    if (encoding && opts.refuseGzip) {
      return Response.json({
        success: false,
        error: { code: "MALFORMED_BATCH", message: "the request body is not JSON" },
      }, { status: 400 });
    }
    const stream = encoding === "gzip"
      ? req.body!.pipeThrough(new DecompressionStream("gzip"))
      : req.body;
    const body = await new Response(stream).json() as {
      batches: ResultBatch[];
      heartbeat?: HeartbeatRequest;
    };
    requests.push(body.batches.map((b) => b.outcomes[0].monitorId));
    heartbeats.push(body.heartbeat);
    const rows = body.batches.reduce((n, b) => n + b.samples.length, 0);
    return Response.json({
      success: true,
      data: { batches: body.batches.length, rows, inserted: rows, duplicates: 0 },
    });
  });
  const dir = await Deno.makeTempDir({ prefix: "nmslite-shipper-" });
  const buffer = await ResultBuffer.open(`${dir}/buffer.kv`, 1_000);
  for (const b of opts.buffered ?? []) await buffer.append(b);
  const central = await CentralClient.create(`http://127.0.0.1:${server.addr.port}`, {});
  const shipper = new Shipper(central, buffer, {
    maxBatchesPerRequest: opts.maxBatchesPerRequest ?? 200,
    maxBytesPerRequest: 800_000,
    shipAtAgeMs: opts.shipAtAgeMs,
    heartbeat: opts.heartbeat,
  }, () => {});
  shipper.start();
  return {
    requests,
    heartbeats,
    encodings,
    shipper,
    buffer,
    async close() {
      await shipper.stop();
      buffer.close();
      central.close();
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("shipper: fresh polls gather into one request until the oldest is due to go", async () => {
  const h = await harness({ shipAtAgeMs: 3_000 });
  try {
    const now = Date.now();
    await h.buffer.append(batch(1, now));
    await new Promise((r) => setTimeout(r, 200));
    await h.buffer.append(batch(2, now + 200));
    await h.buffer.append(batch(3, now + 200));
    await eventually("shipped", () => Promise.resolve(h.requests.length > 0), 30_000);
    assertEquals(h.requests, [[1, 2, 3]], "one request for the three batches");
    await eventually("buffer empty", () => Promise.resolve(h.buffer.counts.buffered === 0));
  } finally {
    await h.close();
  }
});

Deno.test("shipper: an overdue poll and a full request go without waiting", async () => {
  // A wait of ten minutes would outlast the test's guard: these must not wait at all.
  const overdue = await harness({ shipAtAgeMs: 600_000 });
  try {
    await overdue.buffer.append(batch(1, Date.now() - 700_000));
    await eventually("the overdue batch shipped", () => Promise.resolve(overdue.requests.length));
    assertEquals(overdue.requests, [[1]]);
  } finally {
    await overdue.close();
  }
  const full = await harness({
    shipAtAgeMs: 600_000,
    maxBatchesPerRequest: 2,
    buffered: [batch(2, Date.now()), batch(3, Date.now()), batch(4, Date.now())],
  });
  try {
    await eventually("the full request shipped", () => Promise.resolve(full.requests.length));
    assertEquals(full.requests, [[2, 3]], "the full request went; the rest waits its turn");
  } finally {
    await full.close();
  }
});

Deno.test("shipper: a request's age is its oldest poll's", () => {
  const item = (b: ResultBatch) => ({ key: [], batch: b, bytes: 0 });
  assertEquals(oldestDueAt([item(batch(1, 5_000)), item(batch(2, 3_000))]), 3_000);
  assertEquals(oldestDueAt([item({ ...batch(1, 1), outcomes: [] })]), 0, "none: ship now");
  assert(oldestDueAt([]) === 0);
});

Deno.test("shipper: the node's heartbeat rides on each ingest request", async () => {
  let stats = { polls_per_s: 1, buffered: 1, dropped: 0, dead_letters: 0, monitors: 2 };
  const h = await harness({ shipAtAgeMs: 0, heartbeat: () => ({ version: "t", stats }) });
  try {
    assertEquals(h.shipper.reportedAt, 0);
    const before = Date.now();
    await h.buffer.append(batch(1, before));
    await eventually("shipped", () => Promise.resolve(h.shipper.reportedAt > 0));
    assertEquals(h.heartbeats, [{ version: "t", stats }]);
    assert(h.shipper.reportedAt >= before, "acknowledged after it was sent");
    stats = { ...stats, polls_per_s: 7 };
    await h.buffer.append(batch(2, Date.now()));
    await eventually("shipped again", () => Promise.resolve(h.requests.length === 2));
    assertEquals(h.heartbeats[1]?.stats.polls_per_s, 7, "the figures of the moment");
  } finally {
    await h.close();
  }
});

Deno.test("shipper: a large request goes gzip-compressed, a small one as it is", async () => {
  const h = await harness({ shipAtAgeMs: 0 });
  try {
    const small = batch(1, Date.now());
    await h.buffer.append(small);
    await eventually("small shipped", () => Promise.resolve(h.requests.length === 1));
    const large = batch(2, Date.now());
    // ~40 KB of outcomes, as a request of a few dozen polls is
    large.outcomes = Array.from({ length: 200 }, () => ({ ...large.outcomes[0] }));
    await h.buffer.append(large);
    await eventually("large shipped", () => Promise.resolve(h.requests.length === 2));
    assertEquals(h.encodings, [null, "gzip"]);
    assertEquals(h.requests[1], [2], "the compressed request arrived whole");
  } finally {
    await h.close();
  }
});

Deno.test("shipper: a central that refuses compressed bodies gets them as they are", async () => {
  const h = await harness({ shipAtAgeMs: 0, refuseGzip: true });
  try {
    const large = (id: number) => {
      const b = batch(id, Date.now());
      b.outcomes = Array.from({ length: 200 }, () => ({ ...b.outcomes[0] }));
      return b;
    };
    await h.buffer.append(large(1));
    await eventually("first shipped", () => Promise.resolve(h.requests.length === 1));
    await h.buffer.append(large(2));
    await eventually("second shipped", () => Promise.resolve(h.requests.length === 2));
    assertEquals(h.encodings, ["gzip", null, null], "retried as is, then never compressed");
    assertEquals(h.requests, [[1], [2]]);
    await eventually("buffer empty", () => Promise.resolve(h.buffer.counts.buffered === 0));
    assertEquals(h.buffer.counts.deadLetters, 0, "nothing dead-lettered");
  } finally {
    await h.close();
  }
});
