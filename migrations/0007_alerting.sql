-- Alerting: device tags (for scoping), rules, problems, maintenance windows, notification
-- channels and policies, and the durable outbox of notifications with its delivery log.

CREATE TABLE device_tags (
  device_id integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  tag       text NOT NULL CHECK (tag ~ '^[A-Za-z0-9_.:-]{1,64}$'),
  PRIMARY KEY (device_id, tag)
);
CREATE INDEX device_tags_tag ON device_tags (tag);

CREATE TABLE alert_rules (
  id                 serial PRIMARY KEY,
  name               text NOT NULL,
  metric             text NOT NULL,
  operator           text NOT NULL CHECK (operator IN ('>', '>=', '<', '<=')),
  threshold          double precision NOT NULL,
  recovery_threshold double precision,
  for_seconds        integer NOT NULL DEFAULT 0 CHECK (for_seconds >= 0),
  severity           text NOT NULL CHECK (severity IN ('info', 'warning', 'high', 'critical')),
  scope_kind         text NOT NULL CHECK (scope_kind IN ('all', 'tag', 'device')),
  scope_tag          text,
  scope_device_id    integer REFERENCES devices (id) ON DELETE CASCADE,
  enabled            boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  CHECK (scope_kind <> 'tag' OR scope_tag IS NOT NULL),
  CHECK (scope_kind <> 'device' OR scope_device_id IS NOT NULL)
);

-- The usual Windows templates, enabled; editable and deletable like any rule.
INSERT INTO alert_rules (name, metric, operator, threshold, recovery_threshold, for_seconds, severity, scope_kind) VALUES
  ('Device unreachable', 'device_unreachable', '>=', 1, NULL, 0, 'high', 'all'),
  ('CPU above 90 %', 'cpu_percent', '>', 90, 80, 300, 'warning', 'all'),
  ('Memory above 90 %', 'memory_percent', '>', 90, 85, 300, 'warning', 'all'),
  ('Volume above 90 % used', 'volume_used_percent', '>', 90, 85, 0, 'high', 'all'),
  ('Volume under 5 % free', 'volume_free_percent', '<', 5, 7, 0, 'critical', 'all'),
  ('Monitor failing 3 polls in a row', 'monitor_failing', '>=', 3, NULL, 0, 'warning', 'all');

CREATE TABLE maintenance_windows (
  id              serial PRIMARY KEY,
  name            text NOT NULL,
  scope_kind      text NOT NULL CHECK (scope_kind IN ('all', 'tag', 'device')),
  scope_tag       text,
  scope_device_id integer REFERENCES devices (id) ON DELETE CASCADE,
  -- one-off: starts_at .. ends_at; weekly: days (0 = Sunday) at start_minute (UTC) for duration
  kind            text NOT NULL CHECK (kind IN ('once', 'weekly')),
  starts_at       timestamptz,
  ends_at         timestamptz,
  weekdays        integer[],
  start_minute    integer CHECK (start_minute BETWEEN 0 AND 1439),
  duration_minutes integer CHECK (duration_minutes > 0),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE problems (
  id              serial PRIMARY KEY,
  rule_id         integer REFERENCES alert_rules (id) ON DELETE SET NULL,
  rule_name       text NOT NULL,
  device_id       integer NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
  instance        text NOT NULL DEFAULT '',
  severity        text NOT NULL,
  state           text NOT NULL CHECK (state IN ('open', 'resolved')),
  opened_at       timestamptz NOT NULL,
  open_value      double precision,
  threshold       double precision,
  summary         text NOT NULL,
  acknowledged_at timestamptz,
  acknowledged_by text,
  ack_comment     text,
  resolved_at     timestamptz,
  resolve_value   double precision,
  in_maintenance  boolean NOT NULL DEFAULT false,
  -- notifications: the last sequence given out, and when the last firing one was queued
  sequence        integer NOT NULL DEFAULT 0,
  notified_at     timestamptz
);
-- One open problem per (rule, device, instance).
CREATE UNIQUE INDEX problems_open_one ON problems (rule_id, device_id, instance) WHERE state = 'open';
CREATE INDEX problems_opened ON problems (opened_at DESC);
CREATE INDEX problems_device ON problems (device_id, opened_at DESC);

CREATE TABLE notification_channels (
  id         serial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  type       text NOT NULL CHECK (type IN ('webhook', 'email', 'alertmanager')),
  settings   jsonb NOT NULL DEFAULT '{}',
  -- the secret settings (header values, HMAC key, SMTP password) as one sealed JSON object
  secrets    text,
  enabled    boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE notification_policies (
  id                serial PRIMARY KEY,
  name              text NOT NULL,
  channel_id        integer NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
  min_severity      text NOT NULL DEFAULT 'info' CHECK (min_severity IN ('info', 'warning', 'high', 'critical')),
  tag               text,
  repeat_interval_s integer CHECK (repeat_interval_s IS NULL OR repeat_interval_s > 0),
  send_resolved     boolean NOT NULL DEFAULT true,
  enabled           boolean NOT NULL DEFAULT true,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

-- The durable outbox: one row per (notification, channel); delivered in id order per problem.
CREATE TABLE notification_outbox (
  id              bigserial PRIMARY KEY,
  problem_id      integer REFERENCES problems (id) ON DELETE CASCADE,
  channel_id      integer NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
  idempotency_key text NOT NULL UNIQUE,
  kind            text NOT NULL,
  payload         jsonb NOT NULL,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX notification_outbox_pending ON notification_outbox (next_attempt_at) WHERE status = 'pending';

CREATE TABLE notification_deliveries (
  id          bigserial PRIMARY KEY,
  outbox_id   bigint NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
  problem_id  integer REFERENCES problems (id) ON DELETE CASCADE,
  channel_id  integer NOT NULL,
  attempt     integer NOT NULL,
  ok          boolean NOT NULL,
  status      text NOT NULL,
  detail      text,
  duration_ms integer NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_deliveries_problem ON notification_deliveries (problem_id, id);
