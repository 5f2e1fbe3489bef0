-- Anomaly detection: each reading's score, each series' detector state, and anomaly
-- events (runs of consecutive anomalous readings).
ALTER TABLE readings ADD COLUMN score REAL;
ALTER TABLE series ADD COLUMN detector_state TEXT;
ALTER TABLE series ADD COLUMN scored_until_us INTEGER;

CREATE TABLE anomalies (
    series_id INTEGER NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    peak_us INTEGER NOT NULL,
    peak_score REAL NOT NULL,
    PRIMARY KEY (series_id, start_us)
) WITHOUT ROWID;
CREATE INDEX anomalies_start ON anomalies(start_us, series_id);
