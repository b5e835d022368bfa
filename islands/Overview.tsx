/** The overview's tiles and lists, re-fetched every 15 s while the page is open. */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import type { OverviewData, TopRow } from "../lib/web/page_data.ts";
import type { PollerLoad } from "../lib/observability/poller_load.ts";
import { fmtPercent } from "../components/format.ts";
import { Time } from "../components/Time.tsx";

const REFRESH_MS = 15_000;

function TopList({ title, rows }: { title: string; rows: TopRow[] }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length === 0 ? <p class="muted">No samples yet.</p> : (
        <ol class="toplist">
          {rows.map((r) => (
            <li key={r.device_id}>
              <a href={`/devices/${r.device_id}`}>{r.name}</a>
              <meter min={0} max={100} value={r.value} aria-label={`${r.name} ${title}`} />
              <span class="num">{fmtPercent(r.value)}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

/**
 * How busy the pollers are, averaged over the last few seconds: above 100 % polls wait for a
 * slot for good (a moment over it each second is the scheduler slot's polls leaving together);
 * due polls whose monitor was still being polled, or that found the wait queue full, are
 * skipped (counted since start); hosts whose last poll timed out, and the slow polls that wait
 * outside the pollers' slots.
 */
function PollerTile({ load }: { load: PollerLoad }) {
  const skipped = load.skipped.busy + load.skipped.queue_full;
  const slow = load.slow?.hosts ?? 0;
  const saturated = load.average > 1;
  return (
    <div
      class={saturated ? "tile bad" : "tile"}
      title={`${load.capacity} polls at once, ${load.maxQueued} waiting (up to 4 × that in a short burst); ${
        fmtPercent(load.ratio * 100)
      } at this moment`}
    >
      <span class="big">{fmtPercent(load.average * 100)}</span> poller load
      {saturated && " (saturated)"}
      {skipped > 0 && (
        <>
          ; {skipped} due polls skipped ({load.skipped.busy} still busy, {load.skipped.queue_full}
          {" "}
          queue full)
        </>
      )}
      {slow > 0 && (
        <>
          ; {slow} {slow === 1 ? "host" : "hosts"} not answering in time ({load.slow.inFlight}{" "}
          slow polls wait outside the {load.capacity} slots)
        </>
      )}
    </div>
  );
}

export default function Overview({ initial }: { initial: OverviewData }) {
  const data = useSignal(initial);
  const stale = useSignal<string | null>(null);
  useEffect(() => {
    const timer = setInterval(async () => {
      try {
        const res = await fetch("/overview.json", { credentials: "same-origin" });
        // a redirect means the session has ended: follow it to the login form
        if (res.redirected) return void (location.href = res.url);
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        data.value = await res.json();
        stale.value = null;
      } catch (err) {
        stale.value = `Could not refresh (${err instanceof Error ? err.message : err}).`;
      }
    }, REFRESH_MS);
    return () => clearInterval(timer);
  }, []);
  const d = data.value;
  const s = d.statuses;
  return (
    <div data-generated={d.generated_at}>
      {stale.value && <p class="error" role="alert">{stale.value}</p>}
      <div class="tiles">
        <a class="tile" href="/devices">
          <span class="big">{d.devices_total}</span> devices
        </a>
        <a class="tile ok" href="/devices?status=monitoring">
          <span class="big">{s.monitoring}</span> monitoring
        </a>
        <a class="tile" href="/devices?status=discovered">
          <span class="big">{s.discovered}</span> discovered
        </a>
        <a class="tile bad" href="/devices?status=unreachable">
          <span class="big">{s.unreachable}</span> unreachable
        </a>
        <a class="tile" href="/devices?status=inactive">
          <span class="big">{s.inactive}</span> inactive
        </a>
        <div class="tile">
          <span class="big">{d.polls_per_minute}</span> polls / min scheduled ({d.monitors_enabled}
          {" "}
          monitors)
        </div>
        {d.poller && <PollerTile load={d.poller} />}
        <a class="tile bad" href="/monitors?failing=1">
          <span class="big">{d.failing_last_hour}</span> failing in the last hour
        </a>
      </div>
      <div class="grid3">
        <TopList title="Highest CPU" rows={d.top_cpu} />
        <TopList title="Highest memory" rows={d.top_memory} />
        <TopList title="Fullest disk" rows={d.top_disk} />
      </div>
      <section class="card">
        <h2>Recent errors</h2>
        {d.errors.length === 0
          ? <p class="muted">No poll errors. All quiet.</p>
          : (
            <ul class="errors">
              {d.errors.map((e) => (
                <li key={e.monitor_id}>
                  <a href={`/devices/${e.device_id}`}>{e.name}</a> <Time value={e.at} />
                  <code>{e.error}</code>
                </li>
              ))}
            </ul>
          )}
      </section>
      <p class="muted small">
        Updated <Time value={d.generated_at} plain />; refreshes every 15 s.
      </p>
    </div>
  );
}
