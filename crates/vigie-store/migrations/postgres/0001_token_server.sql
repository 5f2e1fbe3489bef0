-- Organisations, ML projects, applications (OAuth2 clients), signing keys and refresh tokens.
-- Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE ml_projects (
    org_id TEXT NOT NULL REFERENCES organisations(id),
    code TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, code)
);

CREATE TABLE applications (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    previous_secret_hash BYTEA,
    previous_secret_expires_at BIGINT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX applications_org ON applications(org_id);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    private_key BYTEA NOT NULL,
    public_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT
);

CREATE TABLE refresh_families (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES applications(id),
    scope TEXT NOT NULL,
    generation BIGINT NOT NULL,
    rotated_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    revoked_reason TEXT
);
CREATE INDEX refresh_families_app ON refresh_families(app_id);

CREATE TABLE refresh_tokens (
    hash BYTEA PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES refresh_families(id),
    generation BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);

CREATE TABLE revoked_access_tokens (
    jti TEXT PRIMARY KEY,
    app_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Bumped by every change a running server must notice (applications, keys, revocations).
CREATE TABLE state_generation (
    id INT PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO state_generation (id, value) VALUES (1, 0);
