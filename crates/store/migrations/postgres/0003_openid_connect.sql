-- OpenID Connect (SQLite migration 0004): user claims, per-client ID-token
-- algorithm and logout redirect URIs, and signing keys dedicated to ID
-- tokens.

-- The user's standard claims (OIDC Core §5.1) as a JSON object of
-- tessera_core::user_claims::UserClaims; released by scope at UserInfo.
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';

-- The JWS alg of the client's ID tokens ('RS256', 'ES256', 'EdDSA'); NULL
-- means RS256.
ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT;
-- JSON array of the URIs RP-initiated logout may return to (exact match).
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';

-- What a key signs: 'access_token' or 'id_token'.
ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access_token';
