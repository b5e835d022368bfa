-- Names are unique regardless of case (usernames, credential / discovery profile and plugin
-- names): login and the login throttle already fold case, so "Admin" and "admin" must be one
-- name. One monitor per (device, credential profile, plugin): a second would poll the same thing.
--
-- Upgrading data that breaks these rules never fails: of names equal but for case, the oldest
-- (lowest id) keeps its name and each later one is renamed "<name>-2" (or -3, … the first that
-- is free), and of identical monitors the enabled one with the lowest id stays and the others
-- are folded into it: their samples move to the monitor that stays (a sample at a timestamp it
-- already has is the same poll of the same host twice and is dropped), then they are deleted.
-- Every rename and deletion is written to the audit log, so an
-- administrator can see what changed and why.
DO $$
DECLARE
  t record;
  r record;
  candidate text;
  taken boolean;
  n integer;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('users', 'username', 'user', 64),
      ('credential_profiles', 'name', 'credential_profile', 100),
      ('discovery_profiles', 'name', 'discovery_profile', 100),
      ('plugins', 'name', 'plugin', 100)
    ) AS v(tbl, col, entity, maxlen)
  LOOP
    FOR r IN EXECUTE format(
      'SELECT a.id, a.%1$I AS name FROM %2$I a
        WHERE EXISTS (SELECT 1 FROM %2$I b WHERE lower(b.%1$I) = lower(a.%1$I) AND b.id < a.id)
        ORDER BY a.id', t.col, t.tbl)
    LOOP
      n := 2;
      LOOP
        candidate := left(r.name, t.maxlen - length('-' || n)) || '-' || n;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE lower(%I) = lower($1))', t.tbl, t.col)
          INTO taken USING candidate;
        EXIT WHEN NOT taken;
        n := n + 1;
      END LOOP;
      EXECUTE format('UPDATE %I SET %I = $1, updated_at = now() WHERE id = $2', t.tbl, t.col)
        USING candidate, r.id;
      INSERT INTO audit_log (username, action, entity, entity_id, details)
      VALUES ('(migration 0005)', 'rename', t.entity, r.id::text, jsonb_build_object(
        'from', r.name, 'to', candidate,
        'reason', 'names are unique regardless of case; an older one has the same name'));
    END LOOP;
  END LOOP;
END $$;

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));
CREATE UNIQUE INDEX credential_profiles_name_lower_key ON credential_profiles (lower(name));
CREATE UNIQUE INDEX discovery_profiles_name_lower_key ON discovery_profiles (lower(name));
CREATE UNIQUE INDEX plugins_name_lower_key ON plugins (lower(name));

CREATE TEMP TABLE monitor_duplicates ON COMMIT DROP AS
  SELECT id, keep_id FROM (
    SELECT id, first_value(id) OVER w AS keep_id, row_number() OVER w AS rn
    FROM monitors
    WINDOW w AS (PARTITION BY device_id, credential_profile_id, plugin_id ORDER BY enabled DESC, id)
  ) ranked WHERE rn > 1;

UPDATE metrics m SET monitor_id = d.keep_id
  FROM monitor_duplicates d
 WHERE m.monitor_id = d.id
   AND NOT EXISTS (SELECT 1 FROM metrics k WHERE k.monitor_id = d.keep_id AND k.ts = m.ts);

WITH duplicates AS (
  SELECT id, keep_id FROM monitor_duplicates
), logged AS (
  INSERT INTO audit_log (username, action, entity, entity_id, details)
  SELECT '(migration 0005)', 'delete', 'monitor', id::text, jsonb_build_object(
    'duplicate_of', keep_id,
    'reason', 'one monitor per device, credential profile and plugin; monitor ' || keep_id ||
      ' polls the same and received its samples')
  FROM duplicates
)
DELETE FROM monitors WHERE id IN (SELECT id FROM duplicates);

CREATE UNIQUE INDEX monitors_target_key ON monitors (device_id, credential_profile_id, plugin_id);
