-- Tessera's initial schema (SQLite).
-- Codes, refresh tokens and session ids are stored only as SHA-256 hashes;
-- client secrets only as HMAC-SHA-256 under the server key; user passwords as
-- Argon2id PHC strings.

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   TEXT,
    redirect_uris TEXT NOT NULL, -- JSON array
    scopes        TEXT NOT NULL, -- space-delimited
    grant_types   TEXT NOT NULL, -- JSON array
    require_pkce  INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE users (
    user_id             TEXT PRIMARY KEY,
    username            TEXT NOT NULL UNIQUE,
    password_hash       TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    kid           TEXT PRIMARY KEY,
    algorithm     TEXT NOT NULL,
    private_pkcs8 BLOB NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    csrf_token TEXT NOT NULL,
    user_id    TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time  INTEGER,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Validated authorization requests waiting for login and consent, bound to
-- the browser session that made them.
CREATE TABLE authorization_requests (
    id           TEXT PRIMARY KEY,
    session_hash TEXT NOT NULL,
    data         TEXT NOT NULL, -- JSON of tessera_core::authorize::AuthorizationRequest
    expires_at   INTEGER NOT NULL
);
CREATE INDEX authorization_requests_session ON authorization_requests (session_hash);

CREATE TABLE consents (
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    redirect_uri TEXT, -- set for public clients: consent holds only for this URI
    granted_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- One user's authorization of one client. Codes, refresh-token families and
-- access tokens hang off a grant; revoking the grant ends them all.
CREATE TABLE grants (
    grant_id       TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT
);
CREATE INDEX grants_user ON grants (user_id);

CREATE TABLE authorization_codes (
    code_hash         TEXT PRIMARY KEY,
    grant_id          TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    redirect_uri      TEXT NOT NULL,
    redirect_explicit INTEGER NOT NULL,
    scope             TEXT NOT NULL,
    code_challenge    TEXT,
    nonce             TEXT,
    auth_time         INTEGER NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    consumed_at       INTEGER
);
CREATE INDEX authorization_codes_challenge ON authorization_codes (client_id, code_challenge, issued_at);

CREATE TABLE refresh_tokens (
    token_hash          TEXT PRIMARY KEY,
    grant_id            TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id           TEXT NOT NULL,
    issued_at           INTEGER NOT NULL,
    idle_expires_at     INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    rotated_at          INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- Every access token minted, by jti, so introspection and revocation can
-- reach JWTs through their grant.
CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY,
    grant_id   TEXT REFERENCES grants (grant_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);

CREATE TABLE security_events (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    client_id TEXT,
    user_id   TEXT,
    grant_id  TEXT,
    detail    TEXT NOT NULL
);
