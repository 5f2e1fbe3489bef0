-- Sensor readings. A series is one (project, sensorId, valueName); a reading is
-- identified by its series and its time, so a resent reading replaces itself.
CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    org_id TEXT NOT NULL,
    project_code TEXT NOT NULL,
    sensor_id TEXT NOT NULL,
    value_name TEXT NOT NULL,
    reading_count INTEGER NOT NULL DEFAULT 0,
    first_time_us INTEGER,
    last_time_us INTEGER,
    UNIQUE (org_id, project_code, sensor_id, value_name),
    FOREIGN KEY (org_id, project_code) REFERENCES ml_projects(org_id, code)
);

-- Times are microseconds since the Unix epoch (UTC). `revision` counts corrections.
CREATE TABLE readings (
    series_id INTEGER NOT NULL,
    time_us INTEGER NOT NULL,
    value REAL NOT NULL,
    precision REAL,
    revision INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (series_id, time_us)
) WITHOUT ROWID;
