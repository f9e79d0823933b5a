-- Tessera's initial schema (PostgreSQL): the SQLite migrations 0001-0003 in
-- one step, with PostgreSQL types (BIGINT Unix seconds, BOOLEAN, BYTEA).
-- Codes, refresh tokens and session ids are stored only as SHA-256 hashes;
-- client secrets only as HMAC-SHA-256 under the server key; user passwords as
-- Argon2id PHC strings; signing keys sealed with AES-256-GCM.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE clients (
    client_id           TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    secret_hash         TEXT,
    redirect_uris       TEXT NOT NULL, -- JSON array
    scopes              TEXT NOT NULL, -- space-delimited
    grant_types         TEXT NOT NULL, -- JSON array
    require_pkce        BOOLEAN NOT NULL,
    introspect          BOOLEAN NOT NULL DEFAULT FALSE,
    resource            TEXT,
    access_token_format TEXT,
    created_at          BIGINT NOT NULL
);

CREATE TABLE resources (
    identifier TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    user_id             TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

-- `seq` keeps insertion order, which decides between keys made in the same
-- second (SQLite uses its rowid for this).
CREATE TABLE signing_keys (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    encryption   TEXT NOT NULL,
    private_key  BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retired_at   BIGINT
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    user_id    TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time  BIGINT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE authorization_requests (
    id           TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    data         TEXT NOT NULL, -- JSON of tessera_core::authorize::AuthorizationRequest
    expires_at   BIGINT NOT NULL
);
CREATE INDEX authorization_requests_session ON authorization_requests (session_hash);
CREATE INDEX authorization_requests_expiry ON authorization_requests (expires_at);

CREATE TABLE consents (
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    redirect_uri TEXT,
    granted_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE grants (
    grant_id       TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    audience       TEXT NOT NULL,
    auth_time      BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX grants_user ON grants (user_id);
CREATE INDEX grants_client ON grants (client_id);

CREATE TABLE authorization_codes (
    code_hash         TEXT PRIMARY KEY,
    grant_id          TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    redirect_explicit BOOLEAN NOT NULL,
    scope             TEXT NOT NULL,
    audience          TEXT NOT NULL,
    code_challenge    TEXT,
    nonce             TEXT,
    auth_time         BIGINT NOT NULL,
    issued_at         BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    consumed_at       BIGINT
);
CREATE INDEX authorization_codes_challenge ON authorization_codes (client_id, code_challenge, issued_at);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    grant_id            TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL,
    issued_at           BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    rotated_at          BIGINT
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    token_hash TEXT,
    grant_id   TEXT REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    subject    TEXT NOT NULL,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,
    auth_time  BIGINT,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
CREATE UNIQUE INDEX access_tokens_hash ON access_tokens (token_hash) WHERE token_hash IS NOT NULL;

CREATE TABLE security_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    client_id TEXT,
    user_id   TEXT,
    grant_id  TEXT,
    detail    TEXT NOT NULL
);
