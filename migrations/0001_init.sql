-- NMSlite state tables. Runs unchanged on PostgreSQL 15+ and on the embedded PGlite.

CREATE TABLE users (
  id            serial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 64),
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored hashed. A login starts a family; each refresh rotates the token
-- within the family, and presenting a rotated token again revokes the whole family.
CREATE TABLE refresh_tokens (
  id          bigserial PRIMARY KEY,
  user_id     integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  family_id   uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  expires_at  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  rotated_at  timestamptz,
  revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE credential_profiles (
  id                serial PRIMARY KEY,
  name              text NOT NULL UNIQUE,
  type              text NOT NULL CHECK (type IN ('winrm_basic', 'winrm_ntlm', 'wmi')),
  username          text NOT NULL,
  -- AES-256-GCM, "v1:<key id>:<base64 iv|ciphertext|tag>"
  password_enc      text NOT NULL,
  domain            text,
  port              integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  use_ssl           boolean NOT NULL DEFAULT false,
  tls_verify        text NOT NULL DEFAULT 'system' CHECK (tls_verify IN ('system', 'pinned', 'insecure')),
  tls_ca_pem        text,
  allow_unencrypted boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discovery_profiles (
  id                    serial PRIMARY KEY,
  name                  text NOT NULL UNIQUE,
  credential_profile_id integer NOT NULL REFERENCES credential_profiles (id),
  target                text NOT NULL,
  address_count         integer NOT NULL,
  ports                 integer[] NOT NULL DEFAULT '{5985,5986,135}',
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE discovery_runs (
  id                   serial PRIMARY KEY,
  discovery_profile_id integer REFERENCES discovery_profiles (id) ON DELETE SET NULL,
  status               text NOT NULL DEFAULT 'queued'
                         CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
  addresses_total      integer NOT NULL DEFAULT 0,
  addresses_scanned    integer NOT NULL DEFAULT 0,
  hosts_found          integer NOT NULL DEFAULT 0,
  identified           integer NOT NULL DEFAULT 0,
  failed               integer NOT NULL DEFAULT 0,
  error                text,
  started_by           integer REFERENCES users (id) ON DELETE SET NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  started_at           timestamptz,
  finished_at          timestamptz
);
CREATE INDEX discovery_runs_profile ON discovery_runs (discovery_profile_id, id DESC);

CREATE TABLE devices (
  id                   serial PRIMARY KEY,
  ip                   inet NOT NULL UNIQUE,
  hostname             text,
  domain               text,
  os                   text,
  os_version           text,
  serial_number        text,
  memory_total_bytes   bigint,
  status               text NOT NULL DEFAULT 'discovered'
                         CHECK (status IN ('discovered', 'monitoring', 'unreachable', 'inactive')),
  status_reason        text,
  status_changed_at    timestamptz,
  last_seen            timestamptz,
  discovery_profile_id integer REFERENCES discovery_profiles (id) ON DELETE SET NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_status ON devices (status);
CREATE INDEX devices_hostname ON devices (lower(hostname));

CREATE TABLE plugins (
  id          serial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  type        text NOT NULL CHECK (type IN ('builtin', 'exec')),
  description text NOT NULL DEFAULT '',
  config      jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO plugins (name, type, description)
VALUES ('windows-winrm', 'builtin',
        'CPU, memory, disk, network and process metrics from a Windows host over WinRM (WQL)');

CREATE TABLE monitors (
  id                    serial PRIMARY KEY,
  device_id             integer NOT NULL REFERENCES devices (id),
  credential_profile_id integer NOT NULL REFERENCES credential_profiles (id),
  plugin_id             integer NOT NULL REFERENCES plugins (id),
  polling_interval      integer NOT NULL CHECK (polling_interval >= 10),
  enabled               boolean NOT NULL DEFAULT true,
  last_polled           timestamptz,
  last_attempted        timestamptz,
  last_error            text,
  last_error_at         timestamptz,
  consecutive_failures  integer NOT NULL DEFAULT 0,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX monitors_device ON monitors (device_id);
CREATE INDEX monitors_credential_profile ON monitors (credential_profile_id);
CREATE INDEX monitors_plugin ON monitors (plugin_id);

CREATE TABLE audit_log (
  id          bigserial PRIMARY KEY,
  at          timestamptz NOT NULL DEFAULT now(),
  user_id     integer,
  username    text,
  action      text NOT NULL,
  entity      text NOT NULL,
  entity_id   text,
  details     jsonb,
  request_id  text
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
