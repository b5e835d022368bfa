-- What a discovery run learnt per host: the devices it created or refreshed, and the hosts it
-- found but could not identify (with the reason), so a user sees why a host is missing.
ALTER TABLE discovery_runs ADD COLUMN device_ids integer[] NOT NULL DEFAULT '{}';
ALTER TABLE discovery_runs ADD COLUMN unidentified jsonb NOT NULL DEFAULT '[]';
-- ICMP answers are counted apart: a host that only pings (a printer, a Linux box) is not a
-- Windows host, and loopback answers for every address.
ALTER TABLE discovery_runs ADD COLUMN pinged boolean NOT NULL DEFAULT false;
ALTER TABLE discovery_runs ADD COLUMN ping_replies integer NOT NULL DEFAULT 0;
