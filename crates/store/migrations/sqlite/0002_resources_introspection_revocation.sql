-- Resources (RFC 8707), introspection and revocation.

-- Clients: the introspection permission, the resource a resource-server
-- client serves, and a per-client access-token format.
ALTER TABLE clients ADD COLUMN introspect INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN resource TEXT;
ALTER TABLE clients ADD COLUMN access_token_format TEXT;

CREATE TABLE resources (
    identifier TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    scopes     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The audience every token of a grant is issued for.
ALTER TABLE grants ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE authorization_codes ADD COLUMN audience TEXT NOT NULL DEFAULT '';

-- Enough about every access token to introspect it (opaque tokens by hash,
-- JWTs by jti) and to revoke it before it expires.
ALTER TABLE access_tokens ADD COLUMN token_hash TEXT;
ALTER TABLE access_tokens ADD COLUMN subject TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN audience TEXT NOT NULL DEFAULT '';
ALTER TABLE access_tokens ADD COLUMN auth_time INTEGER;
ALTER TABLE access_tokens ADD COLUMN revoked_at INTEGER;
CREATE UNIQUE INDEX access_tokens_hash ON access_tokens (token_hash) WHERE token_hash IS NOT NULL;
