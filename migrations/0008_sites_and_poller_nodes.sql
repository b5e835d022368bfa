-- Sites and poller nodes (issue 13). Every device and discovery profile belongs to a site;
-- monitors follow their device. The built-in site `local` (id 1) is polled by an all-in-one
-- server's own Workers; any other site is polled by its poller nodes, which connect outbound.

CREATE TABLE sites (
  id          serial PRIMARY KEY,
  name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX sites_name ON sites (lower(name));
INSERT INTO sites (id, name, description) VALUES (1, 'local', 'polled by the server itself');
SELECT setval(pg_get_serial_sequence('sites', 'id'), 1);

ALTER TABLE devices ADD COLUMN site_id integer NOT NULL DEFAULT 1 REFERENCES sites (id);
CREATE INDEX devices_site ON devices (site_id);
ALTER TABLE discovery_profiles ADD COLUMN site_id integer NOT NULL DEFAULT 1 REFERENCES sites (id);

-- A node's credential: a 256-bit secret the node keeps (mode 0600); only its SHA-256 is stored
-- here. The enrolment token is one-time: its hash is cleared when it is exchanged.
CREATE TABLE poller_nodes (
  id                    serial PRIMARY KEY,
  site_id               integer NOT NULL REFERENCES sites (id),
  name                  text NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
  status                text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'enrolled', 'revoked')),
  version               text,
  enrolment_token_hash  text UNIQUE,
  enrolment_expires_at  timestamptz,
  credential_hash       text UNIQUE,
  enrolled_at           timestamptz,
  revoked_at            timestamptz,
  last_heartbeat        timestamptz,
  -- what the node last said about itself (polls/s, buffered batches, …)
  stats                 jsonb NOT NULL DEFAULT '{}',
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX poller_nodes_name ON poller_nodes (lower(name));
CREATE INDEX poller_nodes_site ON poller_nodes (site_id);

-- Background duties that must run once across several central processes (partition upkeep,
-- retention) take a lease here: whoever holds an unexpired lease does the work.
CREATE TABLE leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);
