-- Asset health across nodes (#14): every request that feeds an asset's model counts
-- here; a node's model is current only if it saw every one of them.
ALTER TABLE assets ADD COLUMN fed_version BIGINT NOT NULL DEFAULT 0;
