/**
 * packBatches writes each queue message while it packs (each result serialized once); the
 * message must be exactly what JSON.stringify makes of the batch, whatever the text holds, and
 * every message must stay under the limit.
 */
import { assert, assertEquals } from "../helpers/assert.ts";
import {
  decodeBatch,
  encodeBatch,
  MAX_MESSAGE_BYTES,
  packBatches,
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
    assertEquals(bytes, encoder.encode(JSON.stringify(b)), "the message is the batch's JSON");
    assert(bytes.length <= MAX_MESSAGE_BYTES, `message of ${bytes.length} bytes`);
    assertEquals(decodeBatch(bytes), JSON.parse(JSON.stringify(b)));
  }
}

Deno.test("results queue: packed messages are the batches' JSON, multi-byte text included", () => {
  // two- three- and four-byte UTF-8, and quotes and backslashes JSON escapes
  const names = ["Ethernet 2", "Räsenmäher", "以太网", "Wi-Fi 📶", 'a "quoted" \\ name'];
  const samples = Array.from({ length: 400 }, (_, i) => sample(i + 1, names));
  const outcomes = samples.map((s, i) =>
    outcome(s.monitorId, i % 7 ? undefined : 'Zugriff verweigert — ünd "so"')
  );
  const batches = packBatches(samples, outcomes);
  assert(batches.length > 3, `400 results of ~1.5 KB need several messages (${batches.length})`);
  checkMessages(batches);
  const back = batches.flatMap((b) => decodeBatch(encodeBatch(b)).samples);
  assertEquals(back.map((s) => s.monitorId), samples.map((s) => s.monitorId), "order kept");
  assertEquals(back[399].interfaces?.map((i) => i.name), names);
  assertEquals(
    batches.reduce((n, b) => n + b.outcomes.length, 0),
    400,
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
