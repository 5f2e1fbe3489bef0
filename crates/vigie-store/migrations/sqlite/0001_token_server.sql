-- Organisations, ML projects, applications (OAuth2 clients), signing keys and refresh tokens.
-- Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE ml_projects (
    org_id TEXT NOT NULL REFERENCES organisations(id),
    code TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, code)
) WITHOUT ROWID;

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    previous_secret_hash BLOB,
    previous_secret_expires_at INTEGER,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX applications_org ON applications(org_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_key BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER
);

CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications(id),
    scope TEXT NOT NULL,
    generation INTEGER NOT NULL,
    rotated_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
);
CREATE INDEX refresh_families_app ON refresh_families(app_id);

CREATE TABLE refresh_tokens (
    hash BLOB PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families(id),
    generation INTEGER NOT NULL,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Bumped by every change a running server must notice (applications, keys, revocations).
CREATE TABLE state_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO state_generation (id, value) VALUES (1, 0);
