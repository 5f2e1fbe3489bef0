-- Invitations an organisation's admins give: a one-time link (the store keeps the
-- SHA-256 of its token, hex) with which the invited person chooses their password.
CREATE TABLE invitations (
    id_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
