-- Detector states are checkpoints: written every few thousand readings or every
-- minute, not with every batch. A detector loaded from the store replays the scored
-- readings after its checkpoint. States written before this migration were written
-- with every batch, so they are checkpoints of their last scored reading.
ALTER TABLE series ADD COLUMN checkpoint_until_us BIGINT;
UPDATE series SET checkpoint_until_us = scored_until_us WHERE detector_state IS NOT NULL;
