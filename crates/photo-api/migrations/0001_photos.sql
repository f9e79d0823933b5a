-- The photo-storage API's own database (never the authorization server's).
CREATE TABLE photos (
    id           TEXT PRIMARY KEY,
    owner        TEXT NOT NULL, -- the token subject
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX photos_owner ON photos (owner, created_at);

-- Subjects whose sample photos were already created, so deleting them all
-- does not bring them back.
CREATE TABLE seeded_owners (
    owner TEXT PRIMARY KEY
);
