-- The audit trail (issue 13 item 4): `security_events` records every
-- security-relevant event, successes included, with where the request came
-- from (`source`: the client's address, or `command line` for management
-- commands) and how it ended (`outcome`: `success` or `failure`). Rows
-- written before this migration were all refusals and detections:
-- `failure`. Append-only: nothing updates a row; housekeeping deletes rows
-- older than the configured retention.
ALTER TABLE security_events ADD COLUMN source TEXT;
ALTER TABLE security_events ADD COLUMN outcome TEXT NOT NULL DEFAULT 'failure';
CREATE INDEX security_events_at ON security_events (at);
CREATE INDEX security_events_user ON security_events (user_id, id);
CREATE INDEX security_events_client ON security_events (client_id, id);
