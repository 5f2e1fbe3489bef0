-- Asset health (#12). An asset is a set of series of one ML project scored together:
-- the project's `default` asset holds every series no named asset lists. Its aligned
-- rows get a health score and the top contributing sensors; runs of abnormal rows are
-- asset events. Series events gain an explanation of their peak.
CREATE TABLE assets (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    name TEXT NOT NULL,
    -- The operator's sampling interval; learnt from the data when NULL.
    sampling_us INTEGER,
    -- The health model's checkpoint, and how far it and the scoring went.
    state TEXT,
    state_until_us INTEGER,
    scored_until_us INTEGER,
    -- A "new normal" asked for: learnt again from the first row at or after this time.
    relearn_from_us INTEGER,
    created_at INTEGER NOT NULL,
    UNIQUE (org_id, project_code, name),
    FOREIGN KEY (org_id, project_code) REFERENCES ml_projects(org_id, code)
);

CREATE TABLE asset_series (
    asset_id INTEGER NOT NULL REFERENCES assets(id),
    sensor_id TEXT NOT NULL,
    value_name TEXT NOT NULL,
    PRIMARY KEY (asset_id, sensor_id, value_name)
) WITHOUT ROWID;

CREATE TABLE asset_health (
    asset_id INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    health REAL NOT NULL,
    -- The top contributors: a JSON array of [sensorId, valueName, share].
    contributors TEXT NOT NULL,
    PRIMARY KEY (asset_id, time_us)
) WITHOUT ROWID;

CREATE TABLE asset_events (
    asset_id INTEGER NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    peak_us INTEGER NOT NULL,
    peak_score REAL NOT NULL,
    contributors TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (asset_id, start_us)
) WITHOUT ROWID;
CREATE INDEX asset_events_start ON asset_events(start_us, asset_id);

ALTER TABLE anomalies ADD COLUMN kind TEXT;
ALTER TABLE anomalies ADD COLUMN expected_low REAL;
ALTER TABLE anomalies ADD COLUMN expected_high REAL;
ALTER TABLE anomalies ADD COLUMN observed REAL;
