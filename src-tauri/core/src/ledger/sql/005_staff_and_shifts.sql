-- Staff who may sign in at this store's tills, with argon2id PIN hashes
-- (PHC strings: algorithm, parameters and salt travel with the hash).
-- A name is unique in any case, so "Amina" and "amina" are one person in
-- the history and the audit log. Staff are deactivated, never deleted: the
-- audit log and old transactions keep naming them.
CREATE TABLE staff (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('cashier', 'manager')),
    pin_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,                   -- RFC 3339, UTC; NULL when not locked
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

-- A shift at one till, from open to close. At close the audit log's head
-- (its last seq and hash) is written here and on the Z report, and kept in
-- the keyring, so rows cut from the end of the log can be noticed.
CREATE TABLE shifts (
    id TEXT PRIMARY KEY,                 -- UUID v7
    till_id TEXT NOT NULL,
    opened_by TEXT NOT NULL,
    opened_at TEXT NOT NULL,
    closed_by TEXT,
    closed_at TEXT,
    audit_head_seq INTEGER,
    audit_head_hash TEXT,
    CHECK ((closed_at IS NULL) = (closed_by IS NULL))
) STRICT;
-- One open shift per till, whichever process opens it.
CREATE UNIQUE INDEX shifts_one_open_per_till ON shifts (till_id) WHERE closed_at IS NULL;
CREATE INDEX shifts_by_till ON shifts (till_id, opened_at);
