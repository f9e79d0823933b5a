-- The refresh retry window: a client that retries a refresh (its answer was
-- lost) within a few seconds gets the same child pair again instead of
-- tripping reuse detection. The parent row keeps which token succeeded it
-- and, until `retry_until`, the answer sealed with AES-256-GCM; the copy is
-- wiped once the child is used or the window has passed.
ALTER TABLE refresh_tokens ADD COLUMN child_hash TEXT;
ALTER TABLE refresh_tokens ADD COLUMN retry_until INTEGER;
ALTER TABLE refresh_tokens ADD COLUMN retry_sealed BLOB;
CREATE INDEX refresh_tokens_child ON refresh_tokens (child_hash) WHERE child_hash IS NOT NULL;
CREATE INDEX refresh_tokens_retry ON refresh_tokens (retry_until) WHERE retry_sealed IS NOT NULL;
