-- Failed logins, counted per throttle key (SQLite migration 0006): `account:`
-- + a keyed hash of the submitted username (known or not; never the name
-- itself) or `address:` + the source address. One row per key, shared by
-- every node; the count starts again once `expires_at` has passed, and
-- housekeeping deletes the row then.
CREATE TABLE login_failures (
    throttle_key    TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX login_failures_expiry ON login_failures (expires_at);
