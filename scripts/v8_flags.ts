/**
 * The V8 flags an NMSlite process that polls runs with: deno.json's `start`, `dev` and `poller`
 * tasks pass them, and the tests and benches start the server and poller nodes with the same
 * (scripts/child_server.ts, tests/helpers/distributed.ts); tests/v8_flags_test.ts keeps the
 * tasks and this list in step.
 *
 * --no-allocation-site-pretenuring: V8 watches how many objects from each allocation site
 * survive the young generation and, past a rate, allocates that site's objects straight in the
 * old generation. A poller's objects mostly live for one poll (tens of milliseconds), but many
 * are alive at once while the fleet is seeded and warms up, so sites such as the decoded
 * response text got tenured: each poll's response strings then went straight to the old
 * generation and died there, and each poller Worker ran a full mark-compact every 10-15 s
 * (`bench:fleet --hosts 10000 --v8-flags=--trace-gc`: 14-18 of them per Worker in 200 s, 4-6
 * without). Back to back on 2026-11-29 (`bench:fleet --hosts 10000 --duration 120`, the
 * simulator at 0.81 and 0.80 ms a poll in both): NMSlite 0.92 -> 0.85 ms of CPU per poll, peak
 * RSS 683 -> 619 MiB. At 20,000 hosts, where a sixth of the polls reconnect, the two were
 * within the runs' noise (0.64 and 0.66 ms).
 *
 * --heap-growing-percent=100: after a full collection the old generation may grow to twice what
 * survived before the next one. Left to itself V8 picks the factor from how fast its
 * collections run; a poller's are fast, so it chose ~1.15: each poller Worker (40 MB live at
 * 10,000 hosts) ran a full mark-compact every 7-12 s to free the ~5 MB its polls had promoted,
 * and marking 40 MB each time was most of what V8's background threads spent. In a row on
 * 2026-11-30 (`bench:fleet --hosts 10000 --duration 120`): V8's GC threads 0.064 -> 0.040 ms a
 * poll, NMSlite 0.35 -> 0.33 (at 300 %: 0.032 and 0.34, no better in all). At 50,000 hosts
 * (`--duration 120`) it held with a peak RSS of 941 MiB (1,281 MiB in a 300 s run without it).
 */
export const SERVER_V8_FLAGS: readonly string[] = [
  "--no-allocation-site-pretenuring",
  "--heap-growing-percent=100",
];

/** `--v8-flags=…` for a `deno run` command line: SERVER_V8_FLAGS, then `more`. */
export function v8FlagsArg(more: readonly string[] = []): string {
  return `--v8-flags=${[...SERVER_V8_FLAGS, ...more].join(",")}`;
}
