-- Failed logins, counted per throttle key: `account:` + a keyed hash of the
-- submitted username (known or not, so the throttle does not tell which
-- exist; never the name itself, which may be a mistyped password) or
-- `address:` + the source address. One row per key, shared by every node;
-- the count starts again once `expires_at` (a window after the last
-- failure) has passed, and housekeeping deletes the row then.
CREATE TABLE login_failures (
    throttle_key    TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX login_failures_expiry ON login_failures (expires_at);
