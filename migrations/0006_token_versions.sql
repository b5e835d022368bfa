-- Access tokens carry the user's token version (and their login's refresh-token family as the
-- session id). Changing a user's role or password, or deleting the user, bumps the version, so
-- the older tokens are refused by every process that serves the API, also after a restart.
ALTER TABLE users ADD COLUMN token_version integer NOT NULL DEFAULT 0;
