-- The series viewer (#13). Each reading keeps the range its detector expected it in
-- (the chart's band). Rollups summarise a series' readings per bucket of one second,
-- one minute or one hour (`width_s`), with what a chart needs: count, first, lowest,
-- highest and last value, highest score, the band's outer edges. They are written
-- with the readings, so that a chart of millions of readings reads thousands of rows.
-- Hours are always written; seconds and minutes only for batches dense enough to
-- gain from them, so a chart checks each hour's count against its finer buckets.
ALTER TABLE readings ADD COLUMN expected_low DOUBLE PRECISION;
ALTER TABLE readings ADD COLUMN expected_high DOUBLE PRECISION;

CREATE TABLE reading_rollups (
    series_id BIGINT NOT NULL,
    width_s BIGINT NOT NULL,
    bucket_us BIGINT NOT NULL,
    reading_count BIGINT NOT NULL,
    first_us BIGINT NOT NULL,
    first_value DOUBLE PRECISION NOT NULL,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    last_us BIGINT NOT NULL,
    last_value DOUBLE PRECISION NOT NULL,
    max_score DOUBLE PRECISION,
    expected_low DOUBLE PRECISION,
    expected_high DOUBLE PRECISION,
    PRIMARY KEY (series_id, width_s, bucket_us)
);

-- The hours of the readings stored before rollups existed.
INSERT INTO reading_rollups (series_id, width_s, bucket_us, reading_count, first_us,
    first_value, min_value, max_value, last_us, last_value, max_score)
SELECT series_id, 3600, bucket_us, COUNT(*), MIN(time_us), 0, MIN(value), MAX(value),
    MAX(time_us), 0, MAX(score)
FROM (SELECT series_id, time_us, value, score,
        time_us - (((time_us % 3600000000) + 3600000000) % 3600000000) AS bucket_us
      FROM readings) AS r
GROUP BY series_id, bucket_us;
UPDATE reading_rollups SET
    first_value = (SELECT value FROM readings r
                   WHERE r.series_id = reading_rollups.series_id AND r.time_us = reading_rollups.first_us),
    last_value = (SELECT value FROM readings r
                  WHERE r.series_id = reading_rollups.series_id AND r.time_us = reading_rollups.last_us);
