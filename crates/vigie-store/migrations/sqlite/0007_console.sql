-- People of an organisation who use the web console, and their sessions.
-- Times are milliseconds since the Unix epoch (UTC).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    -- Lower-cased; one account per address across organisations.
    email TEXT NOT NULL UNIQUE,
    -- argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    -- viewer, engineer or admin.
    role TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    disabled_at INTEGER
);
CREATE INDEX users_org ON users(org_id);

CREATE TABLE sessions (
    -- SHA-256 of the session id the cookie carries, hex: a database leak gives no session.
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    -- The synchronizer token of the session's forms.
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);

-- Browsers a user has signed in from (SHA-256 of the device cookie, hex): sign-in
-- throttling never refuses them, so an attack on an account cannot lock its owner out.
CREATE TABLE known_devices (
    id_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- What people did: every admin and event-lifecycle action, per organisation.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations(id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX audit_log_org ON audit_log(org_id, id);
