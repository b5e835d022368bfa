/** /devices/:id : identity, monitors, the latest sample, and the charts island. */
import { canEdit, type Page } from "./view.tsx";
import { devicesRepo } from "../../lib/db/devices.ts";
import { getMonitorRef, type LatestSample, latestSample } from "../../lib/metrics/reader.ts";
import { EmptyState, StatusBadge } from "../../components/Layout.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { fmtBps, fmtBytes, fmtPercent } from "../../components/format.ts";
import { Time } from "../../components/Time.tsx";
import { loadMonitorRows } from "../../lib/db/monitor_rows.ts";
import { pickLists } from "../../lib/db/pick_lists.ts";
import { credentialTypeLabel } from "../../lib/web/wording.ts";

/** "12 d 3 h", "3 h 20 min", "4 min" */
function fmtUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor(seconds % 86_400 / 3_600);
  const m = Math.floor(seconds % 3_600 / 60);
  return d > 0 ? `${d} d ${h} h` : h > 0 ? `${h} h ${m} min` : `${m} min`;
}

function Latest({ s }: { s: LatestSample }) {
  return (
    <>
      <dl class="facts">
        <div>
          <dt>CPU</dt>
          <dd>{fmtPercent(s.cpu_percent)}</dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>
            {fmtPercent(s.memory.percent)} of {fmtBytes(s.memory.total_bytes)}
          </dd>
        </div>
        <div>
          <dt>Disk</dt>
          <dd>{fmtPercent(s.disk.percent)} of {fmtBytes(s.disk.total_bytes)}</dd>
        </div>
        <div>
          <dt>Network</dt>
          <dd>
            ↓ {fmtBps(s.network.recv_bps)} ↑ {fmtBps(s.network.sent_bps)}
          </dd>
        </div>
        <div>
          <dt>Processes</dt>
          <dd>{s.process_count ?? "–"}</dd>
        </div>
        {s.uptime_s !== null && (
          <div>
            <dt>Uptime</dt>
            <dd data-uptime={s.uptime_s}>{fmtUptime(s.uptime_s)}</dd>
          </div>
        )}
        {s.page_file.total_bytes !== null && (
          <div>
            <dt>Page file</dt>
            <dd>{fmtPercent(s.page_file.percent)} of {fmtBytes(s.page_file.total_bytes)}</dd>
          </div>
        )}
        {s.processor_queue !== null && (
          <div>
            <dt>CPU queue</dt>
            <dd>{s.processor_queue}</dd>
          </div>
        )}
        <div>
          <dt>Sampled</dt>
          <dd>
            <Time value={s.ts} />
          </dd>
        </div>
      </dl>
      {s.partial.length > 0 && (
        <p class="muted" role="note">
          Not available from this host:{" "}
          {s.partial.map((p) => `${p.part} (${p.class}: ${p.reason})`).join("; ")}
        </p>
      )}
      <div class="grid2">
        <div class="table-wrap">
          <table>
            <caption>Volumes</caption>
            <thead>
              <tr>
                <th scope="col">Volume</th>
                <th scope="col">Used</th>
                <th scope="col">Size</th>
              </tr>
            </thead>
            <tbody>
              {s.volumes.map((v) => (
                <tr key={v.name}>
                  <td>{v.name}</td>
                  <td>{fmtPercent(v.percent)}</td>
                  <td>{fmtBytes(v.total_bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div class="table-wrap">
          <table>
            <caption>Interfaces</caption>
            <thead>
              <tr>
                <th scope="col">Interface</th>
                <th scope="col">Received</th>
                <th scope="col">Sent</th>
                <th scope="col">Errors</th>
              </tr>
            </thead>
            <tbody>
              {s.interfaces.map((i) => (
                <tr key={i.name}>
                  <td>{i.name}</td>
                  <td>{fmtBps(i.recv_bps)}</td>
                  <td>{fmtBps(i.sent_bps)}</td>
                  <td>{i.errors}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </>
  );
}

export const devicePage: Page = {
  path: "/devices/:id{[0-9]+}",
  async get(c, view) {
    const db = c.get("app").db;
    const id = Number(c.req.param("id"));
    const device = id <= 2_147_483_647 ? await devicesRepo.get(db, id) : undefined;
    if (!device) {
      return view.page(
        c,
        "Device not found",
        <EmptyState title="Device not found">
          Device {id} does not exist (any more). Back to the <a href="/devices">device list</a>.
        </EmptyState>,
        404,
      );
    }
    const [monitors, credentials, plugins, tags, protocols] = await Promise.all([
      loadMonitorRows(db, { deviceId: id }),
      pickLists.credentials(db),
      pickLists.plugins(db),
      c.get("app").services.deviceTags.get(id),
      pickLists.deviceProtocols(db, id),
    ]);
    const ref = monitors.length ? await getMonitorRef(db, monitors[0].id) : null;
    const latest = ref ? (await latestSample(db, ref)).sample : null;
    const edit = canEdit(c);
    return view.page(
      c,
      device.hostname ?? device.ip,
      <>
        <p class="crumbs">
          <a href="/devices">Devices</a> /
        </p>
        <h1>
          {device.hostname ?? device.ip} <StatusBadge status={device.status} />
        </h1>
        <dl class="facts">
          <div>
            <dt>IP</dt>
            <dd>{device.ip}</dd>
          </div>
          <div>
            <dt>Domain</dt>
            <dd>{device.domain ?? "–"}</dd>
          </div>
          <div>
            <dt>OS</dt>
            <dd>{[device.os, device.os_version].filter(Boolean).join(" ") || "–"}</dd>
          </div>
          <div>
            <dt>Serial</dt>
            <dd>{device.serial_number ?? "–"}</dd>
          </div>
          <div>
            <dt>Memory</dt>
            <dd>{fmtBytes(device.memory_total_bytes)}</dd>
          </div>
          <div>
            <dt>Protocol</dt>
            <dd>{protocols.map(credentialTypeLabel).join(", ") || "–"}</dd>
          </div>
          <div>
            <dt>Last seen</dt>
            <dd>
              <Time value={device.last_seen} />
            </dd>
          </div>
        </dl>
        {device.status_reason && (
          <p class="muted">
            Status {device.status}: {device.status_reason}
            {device.status_changed_at && (
              <>
                {" "}(<Time value={device.status_changed_at} />)
              </>
            )}
          </p>
        )}
        {edit && (
          <Island
            of={islands.DeviceActions}
            props={{
              device: {
                id: device.id,
                ip: device.ip,
                hostname: device.hostname,
                domain: device.domain,
                os: device.os,
                os_version: device.os_version,
                serial_number: device.serial_number,
                status: device.status,
              },
              monitors: monitors.map((m) => m.id),
              enabledMonitors: monitors.filter((m) => m.enabled).length,
            }}
          />
        )}
        <Island of={islands.DeviceTags} props={{ deviceId: id, tags, canEdit: edit }} />
        <h2>Monitors</h2>
        <Island
          of={islands.MonitorEditor}
          props={{
            monitors,
            canEdit: edit,
            showDevice: false,
            create: { device_id: id, credentials, plugins },
          }}
        />
        <h2>Latest sample</h2>
        {latest ? <Latest s={latest} /> : (
          <p class="muted">
            {monitors.length
              ? "No sample yet: the first poll is on its way."
              : edit
              ? "Add a monitor above to start collecting metrics."
              : "This device is not monitored."}
          </p>
        )}
        <h2>History</h2>
        <Island
          of={islands.DeviceCharts}
          props={{
            monitors: monitors.map((m) => ({
              id: m.id,
              label: `#${m.id} ${m.plugin_name}`,
              depth: m.config?.profile === "extended" || m.config?.profile === "full",
            })),
          }}
        />
        {monitors.some((m) => m.config?.profile === "extended" || m.config?.profile === "full") && (
          <>
            <h2>Windows</h2>
            <Island of={islands.DeviceDepth} props={{ deviceId: id }} />
          </>
        )}
        <Island of={islands.LocalTimes} props={{}} />
      </>,
    );
  },
};
