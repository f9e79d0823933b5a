-- Signing-key lifecycle: keys are published ahead of use, retired once every
-- token they signed has expired, and kept encrypted at rest.

-- The private key is no longer stored in clear: `private_key` holds it as
-- `encryption` says. 'A256GCM': AES-256-GCM under the key-encryption key from
-- the configuration, as nonce (12 bytes) || ciphertext || tag, with the kid as
-- associated data. 'none': PKCS#8 in clear, only for rows written before this
-- migration; the server seals them at its next start.
ALTER TABLE signing_keys RENAME COLUMN private_pkcs8 TO private_key;
ALTER TABLE signing_keys ADD COLUMN encryption TEXT NOT NULL DEFAULT 'none';

-- Published in the JWKS from created_at, used for signing from activates_at.
-- Keys from before this migration were used at once.
ALTER TABLE signing_keys ADD COLUMN activates_at INTEGER NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;

-- No longer published (and never used again) from retired_at. When a key
-- stopped signing is not stored: it is the activates_at of the next key, so it
-- can never disagree with the keys themselves.
ALTER TABLE signing_keys ADD COLUMN retired_at INTEGER;
