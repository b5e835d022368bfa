/**
 * packBatches writes each queue message while it packs (each result serialized once); the
 * message must decode to exactly the batch (as its own JSON gives it back), whatever the text
 * holds, be what encodeBatch makes of the same batch, and stay under the limit. Messages of
 * version 1 (the batch's own JSON, from before an upgrade) still decode.
 */
import { assert, assertEquals, assertThrows } from "../helpers/assert.ts";
import {
  decodeBatch,
  encodeBatch,
  MAX_MESSAGE_BYTES,
  packBatches,
  ResultBatchFormatError,
} from "../../lib/queue/results_queue.ts";
import type { InterfaceSample, MetricSample, PollOutcome } from "../../lib/messages.ts";
import { standardSample } from "../helpers/standard_sample.ts";

const encoder = new TextEncoder();

/** A standard sample with multi-byte text and these interfaces. */
function sample(monitorId: number, names: string[]): MetricSample {
  return standardSample(monitorId, 1_700_000_000_000 + monitorId, {
    diskTotal: null,
    diskUsed: null,
    volumes: [{ name: 'C: "système"', total: 255_953_203_200, used: 101_234_567_890 }],
    interfaces: names.map((name): InterfaceSample => ({
      name,
      sentBps: 1,
      recvBps: 2,
      packetsSent: 3,
      packetsRecv: 4,
      errors: 0,
      discards: 0,
      bandwidthBps: 1e9,
      utilization: null,
    })),
  });
}

function outcome(monitorId: number, error?: string): PollOutcome {
  return {
    monitorId,
    deviceId: monitorId,
    ok: !error,
    attempts: 1,
    attemptedAt: 1_700_000_000_000,
    dueAt: 1_700_000_000_000,
    durationMs: 5,
    ...(error ? { error, errorKind: "fault", errorClass: "fault" } : {}),
  };
}

function checkMessages(batches: ReturnType<typeof packBatches>) {
  for (const b of batches) {
    const bytes = encodeBatch(b);
    assert(bytes.length <= MAX_MESSAGE_BYTES, `message of ${bytes.length} bytes`);
    assertEquals(decodeBatch(bytes), JSON.parse(JSON.stringify(b)), "the batch comes back");
    // the same batch not packed (a copy): encodeBatch writes it in full, the same bytes
    assertEquals(encodeBatch({ ...b }), bytes, "packBatches and encodeBatch agree");
  }
}

Deno.test("results queue: packed messages give the batches back, multi-byte text included", () => {
  // two- three- and four-byte UTF-8, and quotes and backslashes JSON escapes
  const names = ["Ethernet 2", "Räsenmäher", "以太网", "Wi-Fi 📶", 'a "quoted" \\ name'];
  const samples = Array.from({ length: 1_000 }, (_, i) => sample(i + 1, names));
  const outcomes = samples.map((s, i) =>
    outcome(s.monitorId, i % 7 ? undefined : 'Zugriff verweigert — ünd "so"')
  );
  const batches = packBatches(samples, outcomes);
  assert(batches.length > 3, `1,000 results of ~0.6 KB need several (${batches.length})`);
  checkMessages(batches);
  const back = batches.flatMap((b) => decodeBatch(encodeBatch(b)).samples);
  assertEquals(back.map((s) => s.monitorId), samples.map((s) => s.monitorId), "order kept");
  assertEquals(back[999].interfaces?.map((i) => i.name), names);
  assertEquals(
    batches.reduce((n, b) => n + b.outcomes.length, 0),
    1_000,
    "every outcome is packed",
  );
  // a batch may hold the last samples and the first outcomes; none is empty
  for (const b of batches) assert(b.samples.length + b.outcomes.length > 0);
});

Deno.test("results queue: outcomes alone, and nothing at all", () => {
  const batches = packBatches([], [outcome(1), outcome(2, "refused")]);
  assertEquals(batches.length, 1);
  assertEquals(batches[0].samples, []);
  checkMessages(batches);
  assertEquals(packBatches([], []), []);
});

Deno.test("results queue: a sample too big for a message keeps its totals", () => {
  // ~3,000 interfaces of ~170 bytes each: far past one message
  const many = Array.from({ length: 3_000 }, (_, i) => `Intel(R) Ethernet Connection #${i}`);
  const big = sample(7, many);
  const processes = Array.from({ length: 2_000 }, (_, i) => ({
    name: `process-with-a-long-name-${i}.exe`,
    pid: i,
    cpuPercent: 0,
    workingSet: 1,
  }));
  const bigger = { ...sample(8, many), processes } as unknown as MetricSample;
  const batches = packBatches([sample(1, ["Ethernet"]), big, bigger], [outcome(7)]);
  checkMessages(batches);
  const samples = batches.flatMap((b) => b.samples);
  assertEquals(samples.map((s) => s.monitorId), [1, 7, 8]);
  const [small, cut, cutMore] = samples;
  assertEquals(small.interfaces?.length, 1, "a sample that fits is untouched");
  assertEquals(cut.interfaces, null, "the breakdown went");
  assertEquals(cut.volumes, null);
  assertEquals(cut.cpuPercent, 12.5, "the totals stayed");
  assertEquals(cut.partial, undefined);
  assertEquals(cutMore.processes, undefined, "still too big: the process list went too");
  assertEquals(cutMore.partial?.map((p) => p.part), ["processes"]);
});

Deno.test("results queue: version 2 is under half a standard batch's own JSON", () => {
  const samples = Array.from({ length: 80 }, (_, i) => sample(i + 1, ["Ethernet", "Ethernet 2"]));
  const outcomes = samples.map((s) => outcome(s.monitorId));
  const [batch, ...more] = packBatches(samples, outcomes);
  assertEquals(more, [], "80 standard results fit one message");
  const v1 = encoder.encode(JSON.stringify(batch)).length;
  const v2 = encodeBatch(batch).length;
  assert(v2 * 2 < v1, `version 2 ${v2} bytes, version 1 ${v1}`);
});

Deno.test("results queue: extended fields and failures travel; version 1 still decodes", () => {
  const extended: MetricSample = {
    ...sample(3, ["Ethernet"]),
    uptimeS: 86_400,
    cpuCores: [{ name: "0", percent: 3.5 }],
    processNames: ["svchost.exe"],
    partial: [{ part: "services", class: "fault", reason: "access denied" }],
    cpuPercent: null,
    interfaces: null,
  };
  const failed: PollOutcome = { ...outcome(4, "timed out after 30 s"), errorKind: "timeout" };
  const noText: PollOutcome = { ...outcome(5), ok: false };
  const batch = {
    v: 1 as const,
    batchId: "b-ext",
    samples: [extended],
    outcomes: [failed, noText],
  };
  assertEquals(decodeBatch(encodeBatch(batch)), JSON.parse(JSON.stringify(batch)));
  const v1 = encoder.encode(JSON.stringify(batch));
  assertEquals(decodeBatch(v1), batch, "a version 1 message from before an upgrade");
});

Deno.test("results queue: a malformed message is refused, not half read", () => {
  const bad = [
    '{"v":2,"batchId":"x","s":[[1,2,3]],"o":[]}',
    '{"v":2,"batchId":"x","s":[],"o":[["1",2,1,1,0,0,0]]}',
    '{"v":2,"batchId":"x","s":[],"o":{}}',
    '{"v":3,"batchId":"x","s":[],"o":[]}',
    '{"v":2,"batchId":"x","s":[[1,2,0,0,0,0,0,0,0,0,0,0,0,0,0,0,[[1]],null,0]],"o":[]}',
  ];
  for (const text of bad) {
    assertThrows(() => decodeBatch(encoder.encode(text)), ResultBatchFormatError);
  }
});
