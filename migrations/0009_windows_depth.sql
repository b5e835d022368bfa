-- Windows depth (issue 16): a monitor's collection profile, the extended series on `metrics`,
-- and what is kept apart because it is bigger or kept shorter: process lists and event log
-- entries (daily RANGE partitions, dropped past their own retention by the application,
-- lib/metrics/detail_retention.ts), the latest services and boot time per monitor (a state
-- table, one row per monitor), and device events such as a reboot.

-- {"profile": "standard" | "extended" | "full", "top_processes": n, "max_events": n}
ALTER TABLE monitors ADD COLUMN config jsonb NOT NULL DEFAULT '{}';

-- Nullable and without defaults: a standard poll leaves them null, which costs no space.
ALTER TABLE metrics
  ADD COLUMN uptime_s             bigint,
  ADD COLUMN page_file_total      bigint,
  ADD COLUMN page_file_used       bigint,
  ADD COLUMN processor_queue      real,
  ADD COLUMN context_switches_ps  double precision,
  ADD COLUMN cpu_cores            jsonb,
  ADD COLUMN physical_disks       jsonb,
  ADD COLUMN partial              jsonb;

CREATE TABLE process_samples (
  monitor_id  integer NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
  ts          timestamptz NOT NULL,
  processes   jsonb NOT NULL,
  PRIMARY KEY (monitor_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE process_samples_default PARTITION OF process_samples DEFAULT;

-- One row per event record; (monitor, log, record number, time) makes a redelivery a no-op.
CREATE TABLE event_log_entries (
  monitor_id     integer NOT NULL REFERENCES monitors (id) ON DELETE CASCADE,
  ts             timestamptz NOT NULL,
  log            text NOT NULL,
  record_number  bigint NOT NULL,
  source         text NOT NULL,
  event_id       integer NOT NULL,
  level          text NOT NULL,
  message        text,
  PRIMARY KEY (monitor_id, log, record_number, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE event_log_entries_default PARTITION OF event_log_entries DEFAULT;
CREATE INDEX event_log_entries_monitor_ts ON event_log_entries (monitor_id, ts DESC);

CREATE TABLE monitor_windows_state (
  monitor_id    integer PRIMARY KEY REFERENCES monitors (id) ON DELETE CASCADE,
  boot_time     timestamptz,
  services      jsonb,
  services_at   timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE device_events (
  id          bigserial PRIMARY KEY,
  device_id   integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  monitor_id  integer REFERENCES monitors (id) ON DELETE SET NULL,
  ts          timestamptz NOT NULL,
  kind        text NOT NULL,
  message     text NOT NULL,
  details     jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (device_id, kind, ts)
);
CREATE INDEX device_events_device_ts ON device_events (device_id, ts DESC);

-- Rules on what the extended and full profiles collect take parameters (lib/alerting/catalogue.ts):
-- include/exclude service names, a process name, an event source / id / log.
ALTER TABLE alert_rules ADD COLUMN params jsonb NOT NULL DEFAULT '{}';

-- Trigger-start and on-demand services are "Automatic" yet stopped most of the time on a
-- healthy Windows server: excluded, so that "Windows Update stopped" pages nobody.
INSERT INTO alert_rules
  (name, metric, operator, threshold, recovery_threshold, for_seconds, severity, scope_kind,
   params, enabled)
VALUES
  ('Automatic service not running', 'service_not_running', '>=', 1, NULL, 120, 'high', 'all',
   '{"exclude": ["BITS", "CDPSvc", "clr_optimization_*", "edgeupdate", "gupdate", "MapsBroker",
     "RemoteRegistry", "ShellHWDetection", "sppsvc", "TrustedInstaller", "tiledatamodelsvc",
     "WbioSrvc", "wuauserv"]}', true),
  ('Reboot detected', 'reboot_detected', '>=', 1, NULL, 0, 'warning', 'all', '{}', true),
  ('A process above 90 % CPU for 10 minutes', 'process_cpu_percent', '>', 90, 70, 600, 'warning',
   'all', '{}', true),
  ('Named process not running (set its name)', 'process_not_running', '>=', 1, NULL, 60, 'high',
   'all', '{"process": "sqlservr"}', false),
  ('Event log: more than 50 errors in a poll', 'event_log_count', '>', 50, 10, 0, 'warning',
   'all', '{}', true),
  ('Unexpected shutdown (Kernel-Power 41)', 'event_log_count', '>=', 1, NULL, 0, 'high', 'all',
   '{"source": "Microsoft-Windows-Kernel-Power", "event_id": 41}', true);
