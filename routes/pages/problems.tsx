/** /problems : problems filtered by state and severity, acknowledged from the table. */
import { canEdit, type Page } from "./view.tsx";
import { Island } from "../../components/Island.tsx";
import { islands } from "./islands.ts";
import { SEVERITIES, type Severity } from "../../lib/alerting/notification.ts";
import type { ProblemFilter } from "../../lib/db/alert_problems.ts";
import { METRICS } from "../../lib/alerting/catalogue.ts";
import { outboxRepo } from "../../lib/db/notifications.ts";

const STATES = ["open", "unacknowledged", "acknowledged", "resolved", "all"] as const;

export const problemsPage: Page = {
  path: "/problems",
  async get(c, view) {
    const q = c.req.query();
    const state = (STATES as readonly string[]).includes(q.state ?? "") ? q.state! : "open";
    const severity = (SEVERITIES as readonly string[]).includes(q.severity ?? "")
      ? q.severity as Severity
      : undefined;
    const tag = q.tag && /^[A-Za-z0-9_.:-]{1,64}$/.test(q.tag) ? q.tag : undefined;
    const services = c.get("app").services;
    const [page, overview] = await Promise.all([
      services.problems.list({
        limit: 200,
        offset: 0,
        sort: "opened_at",
        order: "desc",
        state: state === "all" ? undefined : state as ProblemFilter["state"],
        severity,
        tag,
      }),
      services.problems.overview(),
    ]);
    const rows = page.items.map((p) => ({
      id: p.id,
      severity: p.severity,
      device_id: p.device_id,
      device_name: p.device_name,
      rule_name: p.rule_name,
      instance: p.instance,
      summary: p.summary,
      state: p.state,
      opened_at: new Date(p.opened_at).toISOString(),
      resolved_at: p.resolved_at ? new Date(p.resolved_at).toISOString() : null,
      acknowledged: p.acknowledged,
      acknowledged_by: p.acknowledged_by,
      ack_comment: p.ack_comment,
      in_maintenance: p.in_maintenance,
    }));
    return view.page(
      c,
      "Problems",
      <>
        <h1>Problems</h1>
        <p class="muted">
          {overview.open} open ({SEVERITIES.map((s) => `${overview.by_severity[s]} ${s}`).join(
            ", ",
          )}), {overview.acknowledged} acknowledged, {overview.in_maintenance} in maintenance.
        </p>
        <form class="filters" method="get" action="/problems" aria-label="Filter problems">
          <label>
            State
            <select name="state">
              {STATES.map((s) => <option key={s} value={s} selected={s === state}>{s}</option>)}
            </select>
          </label>
          <label>
            Severity
            <select name="severity">
              <option value="">any</option>
              {SEVERITIES.map((s) => (
                <option key={s} value={s} selected={s === severity}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Tag <input name="tag" value={tag ?? ""} maxLength={64} />
          </label>
          <button type="submit" class="secondary">Filter</button>
        </form>
        <Island of={islands.Problems} props={{ rows, canEdit: canEdit(c) }} />
      </>,
    );
  },
};

export const alertRulesPage: Page = {
  path: "/alert-rules",
  async get(c, view) {
    const services = c.get("app").services;
    const page = await services.alertRules.list({ limit: 500, offset: 0 });
    return view.page(
      c,
      "Alert rules",
      <>
        <h1>Alert rules</h1>
        <p class="muted">
          A rule opens a problem when its condition holds for its duration, once per device, volume
          or interface; it resolves once the value is back past the recovery threshold.
        </p>
        <Island
          of={islands.AlertRules}
          props={{
            rules: page.items.map((r) => ({
              id: r.id,
              name: r.name,
              metric: r.metric,
              operator: r.operator,
              threshold: r.threshold,
              recovery_threshold: r.recovery_threshold,
              for_seconds: r.for_seconds,
              severity: r.severity,
              scope: r.scope,
              enabled: r.enabled,
            })),
            metrics: METRICS.map(({ name, label, unit, kind }) => ({ name, label, unit, kind })),
            canEdit: canEdit(c),
          }}
        />
      </>,
    );
  },
};

export const maintenancePage: Page = {
  path: "/maintenance",
  async get(c, view) {
    const page = await c.get("app").services.maintenance.list({ limit: 500, offset: 0 });
    const iso = (d: Date | string | null) => d ? new Date(d).toISOString() : null;
    return view.page(
      c,
      "Maintenance",
      <>
        <h1>Maintenance windows</h1>
        <p class="muted">
          During a window problems still open and are marked; their notifications wait until it
          ends.
        </p>
        <Island
          of={islands.MaintenanceWindows}
          props={{
            windows: page.items.map((w) => ({
              id: w.id,
              name: w.name,
              scope: w.scope,
              kind: w.kind,
              starts_at: iso(w.starts_at),
              ends_at: iso(w.ends_at),
              weekdays: w.weekdays,
              start_minute: w.start_minute,
              duration_minutes: w.duration_minutes,
            })),
            canEdit: canEdit(c),
          }}
        />
      </>,
    );
  },
};

export const channelsPage: Page = {
  path: "/notifications",
  async get(c, view) {
    if (c.get("user").role !== "admin") {
      return view.page(c, "Notifications", <p>Only administrators manage notifications.</p>, 403);
    }
    const { services, db } = c.get("app");
    const [channels, policies] = await Promise.all([
      services.notificationChannels.list({ limit: 500, offset: 0 }),
      services.notificationPolicies.list({ limit: 500, offset: 0 }),
    ]);
    const dead = await outboxRepo.dead(db, 50);
    return view.page(
      c,
      "Notifications",
      <>
        <h1>Notifications</h1>
        <Island
          of={islands.NotificationChannels}
          props={{
            channels: channels.items.map(({ id, name, type, settings, secrets_set, enabled }) => ({
              id,
              name,
              type,
              settings,
              secrets_set,
              enabled,
            })),
            policies: policies.items.map((p) => ({
              id: p.id,
              name: p.name,
              channel_id: p.channel_id,
              min_severity: p.min_severity,
              tag: p.tag,
              repeat_interval_s: p.repeat_interval_s,
              send_resolved: p.send_resolved,
            })),
          }}
        />
        <h2>Dead letters</h2>
        {dead.length === 0
          ? <p class="muted">Every notification was delivered or is on its way.</p>
          : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Problem</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Kind</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Last error</th>
                  </tr>
                </thead>
                <tbody>
                  {dead.map((d) => (
                    <tr key={d.id}>
                      <td>{d.problem_id ?? "test"}</td>
                      <td>{d.channel_id}</td>
                      <td>{d.kind}</td>
                      <td>{d.attempts}</td>
                      <td>{d.last_error}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
      </>,
    );
  },
};
