-- Anomaly detection: each reading's score, each series' detector state, and anomaly
-- events (runs of consecutive anomalous readings).
ALTER TABLE readings ADD COLUMN score DOUBLE PRECISION;
ALTER TABLE series ADD COLUMN detector_state TEXT;
ALTER TABLE series ADD COLUMN scored_until_us BIGINT;

CREATE TABLE anomalies (
    series_id BIGINT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL,
    peak_us BIGINT NOT NULL,
    peak_score DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, start_us)
);
CREATE INDEX anomalies_start ON anomalies(start_us, series_id);
