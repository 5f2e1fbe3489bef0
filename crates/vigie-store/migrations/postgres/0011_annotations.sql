-- Annotations and interventions (#13): a time range on a whole project, a sensor, a
-- series or an asset, with a kind (maintenance, planned_stop, process_change, note).
-- A planned stop silences the events that would start on what it covers.
CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    -- What it covers: nothing set for the whole project; a sensor (all its values), a
    -- series (sensor and value) or an asset.
    sensor_id TEXT,
    value_name TEXT,
    asset TEXT,
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    note TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    FOREIGN KEY (org_id, project_code) REFERENCES ml_projects(org_id, code)
);
CREATE INDEX annotations_range ON annotations(org_id, project_code, end_us);
