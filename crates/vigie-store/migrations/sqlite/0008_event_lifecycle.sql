-- What people do with anomaly events: their status (open, acknowledged, resolved), who
-- is on them, the verdict, and every action taken. Events are named by their public id.
CREATE TABLE event_status (
    org_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    event_id TEXT NOT NULL,
    status TEXT NOT NULL,
    assignee TEXT,
    verdict TEXT,
    fault_code TEXT,
    note TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, project_code, event_id),
    FOREIGN KEY (org_id, project_code) REFERENCES ml_projects(org_id, code)
) WITHOUT ROWID;

CREATE TABLE event_history (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    event_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    comment TEXT,
    verdict TEXT,
    fault_code TEXT,
    assignee TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX event_history_event ON event_history(org_id, project_code, event_id, id);
